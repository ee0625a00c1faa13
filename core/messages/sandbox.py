"""Catalogue entries for the sandbox area (see :mod:`core.messages`): files over a reading
limit, timeouts, and what a folder import reports (already imported, summaries)."""

from __future__ import annotations

_NEXT = "正常的发票文件几秒内即可读完；此文件可能已损坏或被刻意构造。请向开票方索取原始文件后重新上传，如确认文件无误请联系系统管理员。"

MESSAGES: dict[str, str] = {
    "too_complex.cpu": "文件“{file}”过于复杂：读取它用满了 {value} 秒的计算时间上限"
                       "（设置 FAPIAO_SANDBOX_CPU_SECONDS），已停止读取，文件未导入。" + _NEXT,
    "too_complex.wall": "文件“{file}”过于复杂：{value} 秒内没有读完（读取时限，设置 "
                        "FAPIAO_SANDBOX_WALL_SECONDS），已停止读取，文件未导入。" + _NEXT,
    "too_complex.memory": "文件“{file}”过于复杂：读取它需要超过 {value} MB 的内存（内存上限，设置 "
                          "FAPIAO_SANDBOX_MEMORY_MB），已停止读取，文件未导入。" + _NEXT,
    "too_complex.crash": "读取文件“{file}”时读取程序异常终止（{detail}），常见原因是读取它需要的内存超过上限 "
                         "{value} MB（设置 FAPIAO_SANDBOX_MEMORY_MB），文件未导入。" + _NEXT,
    "sandbox.timeout": "读取文件“{file}”超时，已停止读取，文件未导入。" + _NEXT,
    "sandbox_error": "读取文件“{file}”时程序出错（{error}），文件未导入。请把该文件交给系统管理员排查。",
    "already_imported": "文件“{file}”已由您（{uploaded_by}）于 {uploaded_at} 导入为发票 {invoice_id}，"
                        "本次没有重复导入，无需处理。",
    "import.unreadable": "无法读取文件“{file}”（{reason}），文件未导入。请检查文件是否存在、是否有读取权限。",
    "import.too_large": "文件“{file}”有 {size} 字节，超过上限 {limit} 字节（设置 FAPIAO_MAX_UPLOAD_BYTES），"
                        "文件未导入。",
    "import.file_changed": "文件“{file}”在导入过程中被修改，文件未导入。请等文件不再变化后重新导入。",
    "import.no_invoice_number": "文件“{file}”中读不到发票号码，无法检查是否重复报销，文件未导入。"
                                "请确认这是发票文件，或向开票方索取完整的原始文件。",
    "import.summary": "导入完成：新导入 {imported} 个，之前已导入 {already_imported} 个，重复 {duplicates} 个，"
                      "未导入 {rejected} 个。",
    "import.duplicate_line": "重复：文件“{file}”是已登记的发票 {invoice_id}（{uploaded_by} 于 {uploaded_at} "
                             "从“{earlier_file}”上传），没有再次导入。",
    "import.rejected_line": "未导入：{message}（{code}）",
}

LABELS: dict[str, dict[str, str]] = {
    "sandbox_limit": {
        "cpu": "计算时间上限",
        "wall": "读取时限",
        "memory": "内存上限",
        "crash": "读取程序异常终止",
    },
}
