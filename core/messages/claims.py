"""Catalogue entries for the claims area (see :mod:`core.messages`).

Claim errors (``claim.<error code>``; the error ``code`` itself stays as the API knows it),
the reasons of the derived invoice status (``claim.reason.*``, see
``accounting/invoice_status.py``), overrides, and the labels of claim states, steps, invoice
statuses and the 报销专员 role.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # input
    "claim.bad_title": "报销单需要标题（1至200个字），请填写标题",
    "claim.bad_department": "部门名称最多100个字，请缩短",
    "claim.bad_purpose": "事由最多500个字，请缩短",
    "claim.no_lines": "报销单至少需要一张发票，请选择要报销的发票",
    "claim.bad_line": "第{line}行：没有指定发票，请选择发票",
    "claim.invoice_twice": "第{line}行：发票 {invoice_id} 在本报销单上出现了两次，请删除重复的一行",
    "claim.bad_comment": "意见最多2000个字，请缩短",
    "claim.reason_required": "驳回需要填写理由，请写明为什么驳回，经办人才能修改",
    "claim.bad_amount": "{where}：金额“{value}”{problem}，请填写如“181.14”的金额",
    "claim.bad_amount.float": "不能是浮点数",
    "claim.bad_amount.nan": "不是数字",
    "claim.bad_amount.decimals": "超过两位小数",
    "claim.bad_amount.negative": "是负数",
    "claim.bad_amount.zero": "不能为零",
    "claim.line_where": "第{line}行",
    "claim.bad_page": "页码必须从1开始，每页1至500条",
    "claim.nothing_to_edit": "没有要修改的内容：请给出标题、部门、事由或发票行",
    # not found
    "claim.claim_not_found": "找不到报销单 {claim_id}，请刷新列表后重试",
    "claim.invoice_not_found": "第{line}行：找不到发票 {invoice_id}，请先上传发票或刷新后重新选择",
    # the gate: why an invoice cannot go on the claim
    "claim.invoice_not_claimable": "第{line}行：发票 {invoice} 不能报销（{label}）：{reasons}",
    "claim.not_uploader": ("第{line}行：发票 {invoice} 是 {uploaded_by} 上传的，您（{user}）只能报销自己上传的发票；"
                           "请由上传人报销，或交给报销专员办理"),
    "claim.amount_exceeds_invoice": "第{line}行：报销金额 {amount} 超过发票 {invoice} 的价税合计 {invoice_total}，请改小金额",
    "claim.invoice_in_claim_race": "有一张发票刚刚被放到另一张报销单上，请刷新后重试",
    "claim.online_check_required": ("报销单 {claim_id} 还不能批准：发票 {invoices} 未查验。本单位要求先查验"
                                    "（FAPIAO_REQUIRE_ONLINE_CHECK），请先查验，或由审批人或会计登记人工放行并写明理由"),
    # states and people
    "claim.wrong_state": "报销单 {claim_id} 当前为“{state_label}”，{action_label}需要报销单处于“{allowed_label}”",
    "claim.not_claimant": "只有经办人 {claimant} 可以{action_label}报销单 {claim_id}",
    "claim.own_claim": "{user} 不能{action_label}自己的报销单 {claim_id}，请交给其他审批人",
    "claim.second_approval_required": ("报销单 {claim_id} 金额 {total}，超过 {limit}：需要一位审批人审核，"
                                       "再由另一位审批人审批"),
    "claim.same_approver": "报销单 {claim_id} 金额 {total}，超过 {limit}：已由 {reviewer} 审核，审批须由另一位审批人进行",
    "claim.org_not_configured": ("未核对购买方：尚未设置本单位名称和税号（FAPIAO_ORG_NAME / FAPIAO_ORG_TAX_ID），"
                                 "请管理员运行 fapiao init --org-name … --org-tax-id …"),
    # reasons of the derived invoice status
    "claim.reason.posted": "已入账（凭证 {voucher}），不能再报销",
    "claim.reason.claimed": "已在报销单 {claim} 上，一张发票只能报销一次",
    "claim.reason.duplicate": "这是已登记发票 {earlier} 的重复件，不能报销",
    "claim.reason.invalid": "签名验证失败：文件在签章后被改动，不能报销；请向开票方索取原始文件",
    "claim.reason.check_failed": "{check}未通过：{message}",
    "claim.reason.online_failed": "查验结果为“{result}”，不能报销",
    "claim.reason.no_total": "没有读出价税合计，无法报销",
    "claim.reason.red_letter": "这是红字发票（价税合计 {total}），用于冲销，不能报销",
    "claim.reason.red_reversed": "已被红字发票 {number} 冲销（红冲），不能报销",
    "claim.reason.no_buyer": "发票上没有购买方名称和税号，无法确认是本单位的发票，不能报销",
    "claim.reason.needs_check": "签名状态为“{status}”，尚未查验：可以报销，但请尽快查验",
    "claim.online_check_pending": "未查验",
    # overrides
    "claim.override.label": "未查验，已由 {by} 人工放行：{reason}",
    "claim.override_reason_required": "人工放行需要写明理由（{min}至{max}个字），请说明为什么不查验也可以放行",
    "claim.override_not_applicable": ("发票 {invoice} 的签名状态是“{status}”，只有未签名或无法验证的发票"
                                      "才需要人工放行；验证失败的发票不能放行"),
}

LABELS: dict[str, dict[str, str]] = {
    "claim_state": {"draft": "草稿", "submitted": "已提交", "reviewed": "已审核", "approved": "已审批",
                    "rejected": "已驳回"},
    "claim_action": {"create": "创建", "edit": "修改", "submit": "提交", "review": "审核", "approve": "审批",
                     "reject": "驳回"},
    "invoice_status": {"claimable": "可报销", "needs_check": "需查验", "failed": "验证失败",
                       "not_ours": "非本单位", "duplicate": "重复", "claimed": "已报销", "posted": "已入账"},
    "verification_status": {"valid": "签名有效", "invalid": "签名无效", "unsigned": "未签名",
                            "indeterminate": "无法验证"},
    "online_check_status": {"not_checked": "未查验", "success": "查验通过", "not_found": "查无此票",
                            "mismatch": "信息不一致", "voided": "已作废", "red_reversed": "已红冲",
                            "same_day": "当日开具，次日可查", "too_old": "超过五年", "rate_limited": "查验次数已满",
                            "error": "查验出错"},
    "role": {"claims_officer": "报销专员"},
    "audit_action": {"claim.create": "创建报销单", "claim.edit": "修改报销单", "claim.submit": "提交报销单",
                     "claim.review": "审核报销单", "claim.approve": "审批报销单", "claim.reject": "驳回报销单",
                     "invoice.override": "人工放行（未查验）"},
}
