"""Write-once objects in an S3-compatible bucket: originals and archive packages past one machine.

The rules are those of the local stores, kept by the bucket instead of the file system:

- **Content-addressed keys.** An object's key ends in the SHA-256 of its bytes
  (``originals/ab/cd/<sha256>``), so the same bytes always land on the same key and a key
  never needs to hold anything else.
- **Write once.** Where the bucket has Object Lock enabled, every object is written in
  COMPLIANCE mode with a retain-until date (``s3_retention_years``, 30 by default, the keeping
  period of 原始凭证): nobody, not even the bucket's owner, can delete or overwrite that version
  before then. Every write also carries ``If-None-Match: *``, so the bucket itself refuses to
  replace an existing key (a conditional write); on a bucket without Object Lock that is the
  whole protection.
- **Nothing partial is visible.** S3 publishes an object only when its upload completes: a
  single PUT is all-or-nothing, and a multipart upload (used above ``s3_multipart_bytes``)
  shows nothing under its key until ``CompleteMultipartUpload``. A process killed mid-upload
  leaves at most an incomplete multipart upload, invisible to readers, which ``store sweep``
  aborts once it is old.
- **Integrity in flight and at rest.** Uploads send their SHA-256 (``ChecksumSHA256``) so the
  server refuses bytes damaged on the way; every read recomputes the SHA-256 (fixity on read).

Only boto3 is used; nothing here knows about invoices or packages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.errors import ErrorKind, ServiceError

if TYPE_CHECKING:
    from core.settings import Settings


class S3StoreError(ServiceError):
    """The bucket refused or could not be reached."""


@dataclass(frozen=True)
class S3Config:
    """Everything that names one bucket: hashable, so a client is made once per bucket."""

    endpoint: str | None
    bucket: str
    region: str
    access_key: str | None
    secret_key: str | None
    prefix: str
    object_lock: str  # auto | compliance | off
    retention_years: int
    multipart_bytes: int

    @classmethod
    def from_settings(cls, s: Settings) -> S3Config:
        prefix = s.s3_prefix.strip("/")
        return cls(endpoint=s.s3_endpoint, bucket=s.s3_bucket, region=s.s3_region,
                   access_key=s.s3_access_key, secret_key=s.s3_secret_key,
                   prefix=f"{prefix}/" if prefix else "", object_lock=s.s3_object_lock,
                   retention_years=s.s3_retention_years, multipart_bytes=s.s3_multipart_bytes)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class S3Bucket:
    """One bucket (and key prefix) with write-once puts and checked reads."""

    def __init__(self, config: S3Config, client: Any | None = None) -> None:
        self.config = config
        self.client = client if client is not None else _client(config)
        self._lock: bool | None = None

    @property
    def name(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.prefix}"

    def key(self, rel: str) -> str:
        return self.config.prefix + rel

    # -- bucket ----------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the bucket when missing (with Object Lock unless ``object_lock`` is off)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.config.bucket)
            return
        except ClientError as exc:
            if _status(exc) not in (404, 400) and _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._error("s3_unreachable", exc) from None
        args: dict[str, Any] = {"Bucket": self.config.bucket}
        if self.config.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
        if self.config.object_lock != "off":
            args["ObjectLockEnabledForBucket"] = True
        try:
            self.client.create_bucket(**args)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error("s3_unreachable", exc) from None
        self._lock = None

    def object_lock(self) -> bool:
        """Whether writes use COMPLIANCE retention (asked of the bucket once per process)."""
        if self._lock is None:
            if self.config.object_lock == "off":
                self._lock = False
            else:
                from botocore.exceptions import ClientError

                try:
                    conf = self.client.get_object_lock_configuration(Bucket=self.config.bucket)
                    enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
                except ClientError as exc:
                    if _code(exc) not in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
                        raise self._error("s3_unreachable", exc) from None
                    enabled = False
                if not enabled and self.config.object_lock == "compliance":
                    raise S3StoreError(ErrorKind.CONFLICT, "s3_object_lock_missing",
                                       f"bucket {self.config.bucket} has no Object Lock, and "
                                       "FAPIAO_S3_OBJECT_LOCK=compliance requires it",
                                       {"bucket": self.config.bucket})
                self._lock = enabled
        return self._lock

    def _lock_args(self, retain_until: datetime | None = None) -> dict[str, Any]:
        if not self.object_lock():
            return {}
        until = retain_until or datetime.now(UTC) + timedelta(days=366 * self.config.retention_years)
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}

    def _error(self, code: str, exc: Exception) -> S3StoreError:
        return S3StoreError(ErrorKind.CONFLICT, code,
                            f"object store {self.name} failed: {_code(exc) or type(exc).__name__} {exc}",
                            {"bucket": self.config.bucket, "reason": _code(exc) or type(exc).__name__})

    # -- objects ---------------------------------------------------------------------------

    def head(self, rel: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.head_object(Bucket=self.config.bucket, Key=self.key(rel))
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error("s3_unreachable", exc) from None
        return ObjectInfo(self.key(rel), int(r["ContentLength"]), r["LastModified"])

    def put_once(self, rel: str, data: bytes, retain_until: datetime | None = None) -> bool:
        """Write ``data`` at ``rel`` unless something is there already; True when written.

        The bucket decides (``If-None-Match: *``): two writers racing for one key end with
        one object and one ``PreconditionFailed``, never a replaced object. ``retain_until``
        (Object Lock buckets) defaults to ``retention_years`` from now.
        """
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": self.config.bucket, "Key": self.key(rel),
                                **self._lock_args(retain_until)}
        try:
            if len(data) > self.config.multipart_bytes:
                self._multipart(args, data)
            else:
                self.client.put_object(Body=data, IfNoneMatch="*", ChecksumAlgorithm="SHA256",
                                       ChecksumSHA256=_b64_sha256(data), **args)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(exc) == 412:
                return False
            raise self._error("s3_write_failed", exc) from None
        return True

    def _multipart(self, args: dict[str, Any], data: bytes) -> None:
        """Upload in parts; the key shows nothing until the final ``Complete`` succeeds."""
        from botocore.exceptions import ClientError

        upload = self.client.create_multipart_upload(ChecksumAlgorithm="SHA256", **args)
        uid = upload["UploadId"]
        parts = []
        size = self.config.multipart_bytes
        try:
            for n, start in enumerate(range(0, len(data), size), 1):
                chunk = data[start:start + size]
                r = self.client.upload_part(Bucket=args["Bucket"], Key=args["Key"], UploadId=uid,
                                            PartNumber=n, Body=chunk, ChecksumSHA256=_b64_sha256(chunk))
                parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": _b64_sha256(chunk)})
            self.client.complete_multipart_upload(Bucket=args["Bucket"], Key=args["Key"], UploadId=uid,
                                                  MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        except ClientError:
            with contextlib.suppress(ClientError):  # else the sweep aborts it later
                self.client.abort_multipart_upload(Bucket=args["Bucket"], Key=args["Key"], UploadId=uid)
            raise
        if "ObjectLockMode" in args:
            # Some servers drop the lock given at CreateMultipartUpload: set it on the object
            # (in COMPLIANCE mode a retention can only be kept or lengthened, never shortened).
            self.client.put_object_retention(
                Bucket=args["Bucket"], Key=args["Key"], ChecksumAlgorithm="SHA256",
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": args["ObjectLockRetainUntilDate"]})

    def get(self, rel: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        from botocore.exceptions import ClientError

        try:
            r = self.client.get_object(Bucket=self.config.bucket, Key=self.key(rel))
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error("s3_unreachable", exc) from None
        body: bytes = r["Body"].read()
        return body

    def listing(self, rel_prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``rel_prefix``, page by page (flat memory)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.config.bucket, Prefix=self.key(rel_prefix))
        for page in pages:
            for o in page.get("Contents", []):
                yield ObjectInfo(o["Key"], int(o["Size"]), o["LastModified"])

    def delete(self, key: str) -> bool:
        """Hide ``key`` (a delete marker; a locked version stays until its retention ends)."""
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=key)
        except ClientError:
            return False
        return True

    def abort_stale_uploads(self, rel_prefix: str, older_than: datetime) -> list[str]:
        """Abort incomplete multipart uploads started before ``older_than`` (killed writers)."""
        from botocore.exceptions import ClientError

        aborted: list[str] = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.config.bucket, Prefix=self.key(rel_prefix))
        for page in pages:
            for u in page.get("Uploads", []):
                if u["Initiated"] > older_than:
                    continue
                try:
                    self.client.abort_multipart_upload(Bucket=self.config.bucket, Key=u["Key"],
                                                       UploadId=u["UploadId"])
                except ClientError:
                    continue
                aborted.append(u["Key"])
        return aborted

    def probe(self) -> None:
        """Raise unless the bucket answers and takes a write (readiness).

        The write is conditional on a fixed key: the first probe creates it, every later one
        is answered 412 after the bucket authorised the write, so frequent probes add no
        object versions to a versioned (Object Lock) bucket.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.config.bucket)
            self.client.put_object(Bucket=self.config.bucket, Key=self.key("_probe/ready"), Body=b"ok",
                                   IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) == "PreconditionFailed" or _status(exc) == 412:
                return
            raise self._error("s3_unreachable", exc) from None
        except BotoCoreError as exc:
            raise self._error("s3_unreachable", exc) from None


@lru_cache(maxsize=16)
def _client(config: S3Config) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=config.endpoint, region_name=config.region,
        aws_access_key_id=config.access_key, aws_secret_access_key=config.secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=5, read_timeout=60,
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"))


@lru_cache(maxsize=16)
def bucket_for(config: S3Config) -> S3Bucket:
    """One ``S3Bucket`` per configuration, so the Object Lock question is asked once."""
    return S3Bucket(config)


def bucket_from_settings(s: Settings | None = None) -> S3Bucket:
    from core.settings import get_settings

    return bucket_for(S3Config.from_settings(s or get_settings()))
