"""Catalogue entries for the archive area (see :mod:`core.messages`).

Also the organisation key (``core/orgkey.py``) and the audit chain's anchors
(``core/audit.py``), which the archive owns.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- the organisation key -------------------------------------------------------------------
    "no_archive_key": "未找到本单位的电子档案签名密钥（{path}）：请先运行 `fapiao init` 生成密钥，"
                      "或从备份恢复数据文件夹中的 keys 文件夹。",
    "archive_key_mismatch": "归档证书 {path} 与本单位的签名私钥不匹配，证书可能被替换：请从备份恢复 "
                            "archive/keys 文件夹后再试。",
    "key_history_mismatch": "密钥历史 {path} 的最后一个密钥不是当前使用的密钥，不能轮换：请检查 "
                            "archive/keys 文件夹是否被改动，必要时从备份恢复。",
    "bad_fingerprint": "期望的密钥指纹“{value}”不是 64 位十六进制的 SM3 指纹：请从 `fapiao archive key` "
                       "（或 GET /archive/key）的输出中完整复制 fingerprint_sm3。",
    "archive.key.rotated": "已启用新的归档签名密钥 {new}（密钥历史第 {seq} 个），原密钥 {old} 已停用。"
                           "此前签名的档案包和审计锚定记录通过密钥历史继续可以验证；请把新指纹告知接收档案馆。",
    # --- pinned trust when a received export is checked (verify-export) ------------------------
    "archive.trust.pinned_ok": "移交包的签名密钥 {found} 与期望的指纹 {expected} 一致{via}。",
    "archive.trust.via_history": "（通过密钥历史：移交包中的密钥由期望的密钥经 {links} 次签名轮换而来）",
    "archive.trust.mismatch": "移交包由密钥 {found} 签名，不是期望的密钥 {expected}，密钥历史中也没有把两者"
                              "连起来的有效签名记录（{why}）。该移交包可能被伪造或重新签名，不能接收：请与移交"
                              "单位核实其密钥指纹。",
    "archive.trust.not_pinned": "未固定信任：没有给出期望的密钥指纹，本次检测只能确认移交包内部一致。移交包使用"
                                "的密钥指纹为 {found}；请向移交单位索取其指纹，用 --expect-key 再检测一次。",
    "archive.trust.history_problem": "移交包中的密钥历史有问题：{why}。",
    "archive.trust.list_mismatch": "{where}中记载的密钥指纹 {listed} 与移交包证书的指纹 {found} 不一致。",
    "archive.trust.untrusted_package": "{code}：清单签名由不在可信密钥链中的密钥签署（可信的是 {trusted}）。",
    "archive.anchors.ok": "{count} 条审计锚定记录的签名均可用可信密钥验证，最新一条为第 {seq} 条日志（{at}）。",
    "archive.anchors.missing": "移交包中没有审计日志锚定记录（data/audit-anchors.jsonl）。",
    "archive.anchors.bad": "审计日志锚定记录第 {line} 行：{why}。",
    # --- the four-property report summary -------------------------------------------------------
    "archive.check.summary": "四性检测{status_label}：共 {total} 项，通过 {pass_} 项，不通过 {fail} 项，"
                             "未执行 {not_run} 项，不适用 {not_applicable} 项。归档密钥 SM3 指纹：{fingerprint}。",
    "archive.check.fingerprint_unknown": "（未知）",
    # --- the audit chain and its anchors --------------------------------------------------------
    "audit.ok": "审计日志完整：共 {entries} 条，哈希链逐条核对无误，并与 {anchors} 条外部锚定记录一致"
                "（最近一条锚定第 {seq} 条，时间 {at}）。",
    "audit.ok_no_anchor": "审计日志的哈希链完整：共 {entries} 条。但还没有外部锚定记录，无法发现整条链被"
                          "重新计算或末尾被删除的情况；下一次写入或核对时会自动锚定。",
    "audit.row_changed": "审计日志第 {seq} 条（{action}）的内容与其哈希不符：该条记录在写入后被改动。请立即通知"
                         "管理员和审计人员，用备份核对。",
    "audit.row_missing": "审计日志缺少第 {expected} 条（下一条是第 {seq} 条）：中间的记录被删除。请立即通知"
                         "管理员和审计人员，用备份核对。",
    "audit.row_unlinked": "审计日志第 {seq} 条的前序哈希与上一条不符：记录被改动、删除或插入。请立即通知管理员"
                          "和审计人员，用备份核对。",
    "audit.rewritten": "审计日志第 {seq} 条与 {at} 签名的锚定记录不符：第 {after} 条之后、第 {seq} 条及以前的"
                       "记录被改写，哈希链被重新计算过。请立即通知管理员和审计人员，用备份和移交包中的锚定记录核对。",
    "audit.truncated": "审计日志只到第 {last} 条，但 {at} 签名的锚定记录表明当时已有第 {seq} 条：末尾的记录被"
                       "删除。请立即通知管理员和审计人员，用备份核对。",
    "audit.anchor_forged": "锚定记录文件 {path} 第 {line} 行不可信：{why}。锚定记录可能被伪造或改动。",
}

LABELS: dict[str, dict[str, str]] = {
    "archive_check_item": {
        "A1": "固化信息有效性（清单 SM2 签名）",
        "A2": "文件摘要（SHA-256、SM3）复核",
        "A3": "发票电子签名复验",
        "A4": "元数据值（格式、范围、长度、字符）",
        "A5": "档号格式与一致性",
        "A6": "无重复记录",
        "A7": "文件属性与元数据一致",
        "I1": "必要元数据齐全",
        "I2": "件号连续无缺号",
        "I3": "过程记录齐全（审批、记账）",
        "I4": "元数据与清单所列文件均存在",
        "I5": "每个文件均列入清单",
        "U1": "元数据可读",
        "U2": "文件可打开、可解析",
        "U3": "文件格式符合归档要求（OFD、PDF、XML、JSON，扫描件 JPEG、PNG）",
        "U4": "无加密、无私有压缩",
        "S1": "病毒与恶意代码检测",
        "S2": "归档后固定性（未被改动）",
        "S3": "一次写入存储",
        "E1": "BagIt 移交包有效（清单、Payload-Oxum）",
        "E2": "移交清册与档案包一致",
        "E3": "归档证书与密钥历史有效",
        "E4": "签名密钥与期望的指纹一致（固定信任）",
        "E5": "审计日志锚定记录签名有效",
    },
    "archive_check_result": {
        "pass": "通过",
        "fail": "不通过",
        "not_applicable": "不适用",
        "not_run": "未执行",
    },
    "archive_check_status": {
        "pass": "通过",
        "fail": "未通过",
    },
    "archive_check_property": {
        "authenticity": "真实性",
        "integrity": "完整性",
        "usability": "可用性",
        "security": "安全性",
    },
}
