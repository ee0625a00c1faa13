"""Messages and labels of the storage area (see core/messages/__init__.py)."""

MESSAGES: dict[str, str] = {
    # readiness (/readyz)
    "ops.ready.database": "数据库连接不上（{reason}），本服务暂不能处理请求；请检查数据库是否在运行、DATABASE_URL 是否正确",
    "ops.ready.migrations": "数据库结构版本（{current}）与程序版本（{head}）不一致，本服务暂不能处理请求；请在本机运行任一 fapiao 命令（如 fapiao init）升级数据库后再启动服务",
    "ops.ready.store": "文件存储 {location} 无法写入（{reason}），上传和归档会失败；请检查磁盘空间与权限，或对象存储的地址与密钥",
    "ops.ready.ok": "服务就绪",
    "ops.ready.failed": "服务未就绪：{reasons}",
}

LABELS: dict[str, dict[str, str]] = {}
