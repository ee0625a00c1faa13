"""Catalogue entries for the auth area (see :mod:`core.messages`).

Login, sessions, tokens, users, permissions and CSRF; also the paging parameters and the
spreadsheet limits (``core.spreadsheet``), which the same team owns.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- logging in, sessions, tokens -----------------------------------------------------------
    "bad_credentials": "用户名或密码不正确，请重新输入；如忘记密码，请联系系统管理员重置。",
    "too_many_failures": "登录失败次数过多，为防止密码被猜测，请 {wait} 秒后再试；"
                         "如忘记密码，请联系系统管理员重置，不要反复尝试。",
    "login_required": "尚未登录或登录已失效，请重新登录；系统对接请在请求头中提供"
                      "“Authorization: Bearer <令牌>”。",
    "bad_auth_header": "请求头 Authorization 的格式应为“Bearer <令牌>”，请检查后重试。",
    "token_invalid": "API 令牌不存在、已被吊销，或其用户的密码、角色已变更或已停用；"
                     "请向系统管理员申请新的令牌（Bearer）。",
    "csrf_failed": "页面的安全校验（X-CSRF-Token）未通过，可能页面已过期；请刷新页面后重试。",
    "token_not_found": "找不到编号为“{id}”的 API 令牌，请刷新令牌列表后重试。",
    "token_not_yours": "只有系统管理员或令牌的持有人本人可以吊销这个 API 令牌。",
    # --- permissions ------------------------------------------------------------------------------
    "forbidden": "您的角色“{role}”（{role_code}）不能执行“{operation}”（{operation_code}）；"
                 "可以执行的角色：{allowed}。如确需办理，请联系系统管理员调整角色。",
    # --- users ------------------------------------------------------------------------------------
    "user_not_found": "找不到编号为“{id}”的用户，请刷新用户列表后重试。",
    "user_exists": "用户名“{username}”已被占用：与已有用户“{existing}”视为同一名称（不区分大小写、"
                   "全角半角）。请换一个用户名。",
    "bad_username": "用户名“{username}”不能使用：{reason}。",
    "username_length": "用户名应为 1 到 {max} 个字符",
    "username_invisible_char": "含有不可见的控制字符或文字方向控制符（{char}），"
                               "这类字符会让两个用户名看起来一样，请重新输入用户名，不要从别处复制粘贴",
    "username_space": "不能含有空格或换行",
    "bad_display_name": "显示名称“{name}”不能使用：应为 1 到 {max} 个字符，且不含不可见的控制字符。",
    "bad_role": "角色“{role}”不存在，可选的角色：{roles}。",
    "last_admin": "不能停用或降级最后一位启用中的系统管理员，否则将无人能管理本系统；"
                  "请先为另一位用户设置管理员角色。",
    "weak_password": "密码至少需要 8 个字符，请重新设置。",
    "password_mismatch": "两次输入的密码不一致，请重新输入。",
    "user_unknown_cli": "没有名为“{name}”的启用用户；请用 --as 指定一个已有的用户名。",
    # --- paging -----------------------------------------------------------------------------------
    "bad_paging": "分页参数 {param}=“{value}”无效：应为 1 到 {max} 之间的整数，请改正后重试。",
    # --- spreadsheets (.xlsx import) --------------------------------------------------------------
    "xlsx_not_workbook": "文件“{file}”不是可读取的 .xlsx 工作簿（{reason}）；请在 Excel 或 WPS 中"
                         "另存为“Excel 工作簿（.xlsx）”后重新导入。",
    "xlsx_bad_xml": "文件“{file}”的内容已损坏（第 {line} 行：{reason}）；请在 Excel 或 WPS 中打开并"
                    "另存为 .xlsx 后重新导入。",
    "xlsx_doctype": "文件“{file}”含有 DOCTYPE 声明，正常的 Excel/WPS 工作簿不会有；为安全起见不予读取，"
                    "请在 Excel 或 WPS 中另存为 .xlsx 后重新导入。",
    "xlsx_too_many_members": "文件“{file}”包含 {count} 个部件，超过上限 {limit} 个，不像正常的工作簿；"
                             "请只保留凭证数据另存后重新导入。",
    "xlsx_member_too_large": "文件“{file}”中的部件“{member}”解压后有 {size} 字节，超过上限 {limit} 字节；"
                             "请删除多余的格式和对象后另存，再重新导入。",
    "xlsx_too_large": "文件“{file}”解压后超过 {limit} 字节（至少 {size} 字节），超出导入上限；"
                      "请把凭证分成几个文件分别导入。",
    "xlsx_ratio": "文件“{file}”中的部件“{member}”压缩比为 {ratio} 倍，超过上限 {limit} 倍，"
                  "可能是恶意构造的文件，已拒绝读取；请在 Excel 或 WPS 中重新另存后导入。",
    "xlsx_size_mismatch": "文件“{file}”中的部件“{member}”实际大小与登记的大小（{declared} 字节）不符，"
                          "文件已损坏或被篡改；请重新另存后导入。",
    "xlsx_long_token": "文件“{file}”的部件“{member}”中有一段超过 {limit} 字节、没有任何标记的连续内容"
                       "（超长的注释、属性或单元格之外的内容），正常的 Excel/WPS 工作簿不会这样，已拒绝读取；"
                       "请在 Excel 或 WPS 中重新另存为 .xlsx 后导入。",
    "xlsx_cell_too_large": "工作表“{sheet}”第 {row} 行第 {column} 列的内容有 {length} 个字符，"
                           "超过单元格上限 {limit} 个字符；请检查并缩短该单元格后重新导入。",
    "xlsx_bad_cell": "工作表“{sheet}”第 {row} 行第 {column} 列的单元格内容无法读取；"
                     "请在 Excel 或 WPS 中重新输入该单元格并另存后导入。",
    "xlsx_too_many_rows": "工作表“{sheet}”写到了第 {row} 行，超过每次导入 {limit} 行的上限；"
                          "请把凭证分成几个文件分别导入（也请删除表格末尾的空行格式）。",
    "xlsx_too_many_columns": "工作表“{sheet}”第 {row} 行用到了第 {column} 列，超过 {limit} 列的上限；"
                             "请删除多余的列后重新导入。",
    "xlsx_too_many_cells": "工作簿的单元格超过 {limit} 个，超出导入上限；请把凭证分成几个文件分别导入。",
}

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "clerk": "经办", "approver": "审核/审批", "accountant": "会计", "archivist": "档案管理员",
        "auditor": "审计（只读）", "admin": "系统管理员",
    },
    "operation": {
        "invoice.upload": "上传发票", "invoice.read": "查看发票", "invoice.verify": "验证发票",
        "invoice.online_check": "在线查验发票", "claim.create": "填报销单", "claim.submit": "提交报销单",
        "claim.review": "审核报销单", "claim.approve": "审批报销单", "claim.reject": "驳回报销单",
        "claim.read": "查看报销单", "voucher.create": "生成记账凭证", "voucher.post": "记账（入账）",
        "voucher.reverse": "红字冲销凭证", "voucher.import": "导入凭证", "voucher.read": "查看凭证",
        "archive.package": "归档", "archive.check": "四性检测", "archive.export": "年度移交导出",
        "archive.override": "检测不通过时强制移交", "archive.destroy": "销毁会计档案",
        "archive.read": "查看档案", "audit.verify": "校验审计日志", "audit.read": "查看审计日志",
        "store.check": "检查原件存储", "store.sweep": "清理残留文件", "users.manage": "管理用户",
        "me": "查看本人信息", "invoice.override": "登记免查验放行", "claim.edit": "修改报销单",
        "claim.for_others": "为他人报销", "archive.key_rotate": "更换归档密钥",
        "voucher.review": "凭证审核",
    },
    "audit_action": {
        "auth.login": "登录", "auth.login_failed": "登录失败", "auth.login_throttled": "登录失败过多（已限速）",
        "user.created": "新增用户", "user.role_changed": "变更角色", "user.activated": "启用用户",
        "user.deactivated": "停用用户", "user.password_set": "重置密码", "user.sessions_ended": "结束登录会话",
        "token.issued": "签发令牌", "token.revoked": "吊销令牌",
    },
    "actor": {"anonymous": "匿名（未登录）", "system": "系统"},
}
