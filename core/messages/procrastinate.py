"""Messages of the PostgreSQL job delivery (core/pq.py, see core/messages/__init__.py)."""

MESSAGES: dict[str, str] = {
    "job.worker_lost": (
        "后台任务“{kind}”已开始 {attempts} 次，每次执行它的 worker 都在中途停止（进程被结束或机器失联），"
        "任务不再重试，已停止。请管理员检查 worker 的内存与日志，处理后重新发起该任务。"),
}
