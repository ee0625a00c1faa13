"""Messages and labels of the queue area (see core/messages/__init__.py): jobs, workers, 件号."""

MESSAGES: dict[str, str] = {
    "job_not_found": "找不到编号为“{id}”的后台任务。请核对任务编号；只能查看自己发起的任务（档案员、审计员和管理员可查看全部）。",
    "job.failed": "后台任务“{kind}”出错：{error}。系统会自动重试；多次失败后任务停止，请把任务编号告诉管理员。",
    "job.unknown_kind": "后台任务类型“{kind}”在本系统中不存在，任务没有执行。请升级 worker 程序，使其与服务端版本一致。",
    "job.bad_params": "后台任务“{kind}”缺少参数（需要：{need}），任务没有执行。请重新发起。",
    "job.path_missing": "要导入的路径“{path}”不存在或无法读取，导入任务没有执行。请确认 worker 所在机器能访问该文件夹后重新发起。",
    "job.no_user": "发起任务的用户“{username}”不存在（可能已被删除），任务没有执行。请由现有用户重新发起。",
    "job.cli_bad_workers": "--concurrency 必须是 1 到 64 之间的整数。",
    "job.cli_timeout": "等待后台任务“{id}”超过 {seconds} 秒仍未结束（当前状态：{state}）。任务仍在后台运行，可用 fapiao job show {id} 查看。",
    "job.cli_started": "已排队后台任务 {id}（{kind}）。用 fapiao job show {id} 查看进度；没有运行中的 worker 时请启动 fapiao worker。",
    "worker.started": "worker 已启动：{threads} 个线程，数据库 {database}。按 Ctrl+C 在当前任务结束后退出。",
    "worker.stopping": "正在停止 worker：等待当前任务结束……",
}

LABELS: dict[str, dict[str, str]] = {
    "job_state": {"queued": "排队中", "running": "运行中", "done": "已完成", "failed": "失败"},
    "job_kind": {
        "invoice.import": "导入发票文件夹",
        "invoice.online_check": "发票查验",
        "store.fixity": "原件完整性检查",
        "store.sweep": "清理残留文件",
        "archive.package": "归档一张凭证",
        "archive.build_year": "按年度批量归档",
        "archive.export": "年度移交导出",
        "archive.retention_reminder": "保管期限到期提醒",
        "audit.anchor": "审计日志锚定",
    },
    "operation": {"job.read": "查看自己的后台任务", "job.read_all": "查看全部后台任务"},
    "audit_action": {"archive.retention_due": "保管期限到期提醒"},
}
