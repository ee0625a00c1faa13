"""Messages and labels of the storage area (see core/messages/__init__.py)."""

MESSAGES: dict[str, str] = {
    # readiness (/readyz)
    "ops.ready.database": "数据库连接不上（{reason}），本服务暂不能处理请求；请检查数据库是否在运行、DATABASE_URL 是否正确",
    "ops.ready.migrations": "数据库结构版本（{current}）与程序版本（{head}）不一致，本服务暂不能处理请求；请在本机运行任一 fapiao 命令（如 fapiao init）升级数据库后再启动服务",
    "ops.ready.store": "文件存储 {location} 无法写入（{reason}），上传和归档会失败；请检查磁盘空间与权限，或对象存储的地址与密钥",
    "ops.ready.ok": "服务就绪",
    "ops.ready.failed": "服务未就绪：{reasons}",
    # object storage (core/s3store.py)
    "s3_unreachable": "对象存储 {bucket} 无法访问（{reason}）；请检查 FAPIAO_S3_ENDPOINT、存储桶名称与访问密钥，稍后重试",
    "s3_write_failed": "文件写入对象存储 {bucket} 失败（{reason}），本次操作未完成；请稍后重试，仍失败请联系管理员",
    "s3_object_lock_missing": "对象存储桶 {bucket} 未启用对象锁定（Object Lock），而设置 FAPIAO_S3_OBJECT_LOCK=compliance 要求启用；请换用启用了对象锁定的存储桶，或改为 auto",
    # backup and restore (core/backup.py)
    "backup.target_not_empty": "备份目录 {path} 不是空的；请指定一个新的或空的目录，以免覆盖已有备份",
    "backup.target_inside_home": "备份目录 {path} 位于数据目录 {home} 之内；请把备份放在数据目录之外（最好是另一块磁盘）",
    "backup.no_home": "数据目录 {home} 不存在，没有可备份的内容；请检查 FAPIAO_HOME",
    "backup.no_database": "找不到数据库文件 {path}，无法备份；请检查 FAPIAO_HOME 或 DATABASE_URL",
    "backup.database_failed": "导出数据库失败（{reason}），备份未完成；请检查数据库是否在运行、是否安装了 pg_dump",
    "backup.object_corrupt": "对象存储中的文件 {key} 与其 SHA-256 不符（内容已被改动），备份已停止；请先运行 fapiao store check 查明原因",
    "restore.no_backup": "找不到备份目录 {path}；请检查路径",
    "restore.no_manifest": "{path} 不是有效的备份清单（manifest.json 缺失或无法读取），不能恢复；请指定 fapiao backup 生成的目录",
    "restore.file_missing": "缺少文件 {file}",
    "restore.file_extra": "多出清单中没有的文件 {file}",
    "restore.file_changed": "文件 {file} 的 SHA-256 与清单不符",
    "restore.manifest_mismatch": "备份与其清单不符（{count} 处），可能已损坏或被改动，拒绝恢复：{first}；请改用另一份完好的备份",
    "restore.home_not_empty": "数据目录 {home} 不是空的，拒绝恢复，以免覆盖现有数据；请把 FAPIAO_HOME 指向一个新的空目录",
    "restore.database_not_empty": "目标数据库 {database} 中已有数据表，拒绝恢复，以免覆盖现有数据；请新建一个空数据库后再恢复",
    "restore.database_kind": "这份备份来自 {backup} 数据库，而目标是 {target} 数据库，不能直接恢复；请把 DATABASE_URL 指向同类数据库",
    "restore.database_failed": "导入数据库失败（{reason}），恢复未完成；请清空数据目录和目标数据库后重试",
    "restore.needs_s3": "这份备份包含对象存储中的原始文件和归档包，但当前未配置对象存储；请设置 FAPIAO_STORE=s3 及存储桶后再恢复",
    "restore.bucket_not_empty": "对象存储桶 {bucket} 中已有原始文件或归档包，拒绝恢复；请使用一个新的空存储桶",
    "backup.done": "备份完成：{files} 个文件，共 {size}，数据库 {database}，审计记录 {audit} 条，存于 {path}",
    "restore.done": "恢复完成：{files} 个文件，数据库 {database}，审计记录 {audit} 条；请运行 fapiao store check、fapiao archive check 与 fapiao audit verify 核对",
}

LABELS: dict[str, dict[str, str]] = {}
