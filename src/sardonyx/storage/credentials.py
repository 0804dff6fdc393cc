"""S3 credentials: the one place they are issued.

Each project gets one bucket, named after the project id (``user-alice``, as Onyxia names personal buckets),
created on first use, and one identity whose policy allows ``s3:*`` on that bucket and its objects only
(IAM ``CreateUser`` + ``PutUserPolicy`` + ``CreateAccessKey`` through the server's IAM API; on SeaweedFS the
embedded IAM API on the S3 port). The secret key can only be read back when it is created, so the platform
keeps it in its state store (``CredentialStore``) and hands the same pair to every service of the project.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from sardonyx.errors import InvalidName, UnavailableError, Violation
from sardonyx.storage.seaweedfs import S3Endpoint

log = logging.getLogger(__name__)

_T = TypeVar("_T")

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
"""S3 bucket names we create: 3-63 characters, lower-case letters, digits and hyphens (a subset of the AWS rules
that is also an RFC 1123 label, so a project id is a valid bucket name)."""


@dataclass(frozen=True)
class S3Credentials:
    """What a service (or the platform, browsing files) needs to use one project's bucket.

    Attributes:
        endpoint_url: full URL (``http://127.0.0.1:8430``).
        bucket: the project's bucket.
        session_token: None for static keys (STS sessions would carry one).
    """

    access_key_id: str
    secret_access_key: str
    endpoint_url: str
    bucket: str
    region: str = "us-east-1"
    session_token: str | None = None
    path_style_access: bool = True

    @property
    def endpoint_host(self) -> str:
        """``host:port`` without scheme: Onyxia's ``s3.AWS_S3_ENDPOINT``."""
        return urlsplit(self.endpoint_url).netloc

    @property
    def endpoint_port(self) -> int:
        """The endpoint's port (443/80 when the URL has none): Onyxia's ``s3.port``."""
        parts = urlsplit(self.endpoint_url)
        if parts.port:
            return parts.port
        return 443 if parts.scheme == "https" else 80

    def environment(self) -> dict[str, str]:
        """The variables Onyxia's library chart injects for S3 (``AWS_*``), plus ``AWS_ENDPOINT_URL`` (read by
        boto3, s3fs and the AWS CLI) and ``MLFLOW_S3_ENDPOINT_URL``."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token or "",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_S3_ENDPOINT": self.endpoint_host,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def launch_context(self) -> dict[str, Any]:
        """The ``s3`` block of the launch context, with Onyxia's keys (``XOnyxiaContext.s3``)."""
        return {
            "profileName": "default",
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token or "",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_S3_ENDPOINT": self.endpoint_host,
            "port": self.endpoint_port,
            "pathStyleAccess": self.path_style_access,
            "isAnonymous": False,
            "AWS_BUCKET_NAME": self.bucket,
            "workingDirectoryPath": f"{self.bucket}/",
        }

    def client(self, service: str = "s3") -> Any:
        """A boto3 client with these credentials (boto3 is imported here, lazily: it is heavy)."""
        return _boto3_client(
            service,
            S3Endpoint(self.endpoint_url, self.access_key_id, self.secret_access_key, self.region),
            self.session_token,
        )


class CredentialSource(Protocol):
    """What the service layer needs to put S3 into a launch context (``CredentialIssuer``, or a fake in tests)."""

    def for_project(self, project: str) -> S3Credentials:
        """Credentials scoped to ``project``'s bucket (created on first use)."""
        ...

    def placeholder(self, project: str) -> S3Credentials:
        """Credentials with placeholder keys (for previews: nothing is issued)."""
        ...


class CredentialStore(Protocol):
    """Where issued keys are kept (the platform's state store implements it)."""

    def load_credentials(self, project: str) -> tuple[str, str] | None:
        """``(access_key_id, secret_access_key)`` issued for ``project``, or None."""
        ...

    def save_credentials(self, project: str, access_key_id: str, secret_access_key: str) -> None: ...

    def delete_credentials(self, project: str) -> None: ...


class MemoryCredentialStore:
    """A ``CredentialStore`` in a dict (tests)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, str]] = {}

    def load_credentials(self, project: str) -> tuple[str, str] | None:
        return self.keys.get(project)

    def save_credentials(self, project: str, access_key_id: str, secret_access_key: str) -> None:
        self.keys[project] = (access_key_id, secret_access_key)

    def delete_credentials(self, project: str) -> None:
        self.keys.pop(project, None)


def validate_bucket_name(name: str) -> str:
    """Return ``name`` if it is a bucket name we create (see ``BUCKET_NAME``), else raise ``InvalidName``."""
    if not BUCKET_NAME.match(name):
        raise InvalidName(
            f"{name!r} cannot name a bucket",
            violations=[Violation("project", "3-63 lower-case letters, digits or hyphens, not at either end")],
        )
    return name


def bucket_policy(bucket: str) -> dict[str, Any]:
    """The IAM policy of a project identity: everything on its bucket and its objects, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


class CredentialIssuer:
    """Issues each project's bucket and scoped credentials (the only code that does).

    ``for_project`` is synchronous (boto3) and thread-safe; call it through ``asyncio.to_thread`` from async
    code. Keys are re-used while they work; when the S3 server forgot them (its data was wiped) they are issued
    again.
    """

    def __init__(
        self,
        admin: S3Endpoint,
        store: CredentialStore,
        *,
        path_style_access: bool = True,
        ready_timeout: float = 10.0,
    ) -> None:
        self.admin = admin
        self.store = store
        self.path_style_access = path_style_access
        self.ready_timeout = ready_timeout
        self._lock = threading.Lock()
        self._verified: set[str] = set()

    def for_project(self, project: str) -> S3Credentials:
        """Credentials scoped to ``project``'s bucket, creating the bucket and identity on first use.

        Raises:
            InvalidName: ``project`` cannot name a bucket.
            UnavailableError: the S3 server does not answer or refuses the admin keys.
        """
        bucket = validate_bucket_name(project)
        with self._lock:
            stored = self.store.load_credentials(project)
            if stored is not None:
                credentials = self._credentials(bucket, *stored)
                if project in self._verified or self._works(credentials):
                    self._verified.add(project)
                    return credentials
                log.warning("the S3 keys of project %s no longer work: issuing new ones", project)
            access_key_id, secret_access_key = self._retrying(lambda: self._provision(bucket))
            self.store.save_credentials(project, access_key_id, secret_access_key)
            self._verified.add(project)
            return self._credentials(bucket, access_key_id, secret_access_key)

    def placeholder(self, project: str) -> S3Credentials:
        """``<AWS_ACCESS_KEY_ID>``/``<AWS_SECRET_ACCESS_KEY>`` on the real endpoint and bucket (nothing issued)."""
        return self._credentials(validate_bucket_name(project), "<AWS_ACCESS_KEY_ID>", "<AWS_SECRET_ACCESS_KEY>")

    def revoke(self, project: str) -> None:
        """Delete the project's identity (its bucket and data stay)."""
        from botocore.exceptions import ClientError

        with self._lock:
            iam = _boto3_client("iam", self.admin)
            try:
                for key in iam.list_access_keys(UserName=project).get("AccessKeyMetadata", []):
                    iam.delete_access_key(UserName=project, AccessKeyId=key["AccessKeyId"])
                iam.delete_user_policy(UserName=project, PolicyName="project-bucket")
                iam.delete_user(UserName=project)
            except ClientError as error:
                if _code(error) not in {"NoSuchEntity", "NoSuchEntityException"}:
                    raise
            self.store.delete_credentials(project)
            self._verified.discard(project)

    def _credentials(self, bucket: str, access_key_id: str, secret_access_key: str) -> S3Credentials:
        return S3Credentials(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            endpoint_url=self.admin.url,
            bucket=bucket,
            region=self.admin.region,
            path_style_access=self.path_style_access,
        )

    def _provision(self, bucket: str) -> tuple[str, str]:
        from botocore.exceptions import ClientError

        s3 = _boto3_client("s3", self.admin)
        iam = _boto3_client("iam", self.admin)
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as error:
            if _code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
        try:
            iam.create_user(UserName=bucket)
        except ClientError as error:
            if _code(error) not in {"EntityAlreadyExists", "EntityAlreadyExistsException"}:
                raise
        iam.put_user_policy(
            UserName=bucket, PolicyName="project-bucket", PolicyDocument=json.dumps(bucket_policy(bucket))
        )
        key = iam.create_access_key(UserName=bucket)["AccessKey"]
        log.info("issued S3 credentials for bucket %s (access key %s)", bucket, key["AccessKeyId"])
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def _works(self, credentials: S3Credentials) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._retrying(lambda: credentials.client().head_bucket(Bucket=credentials.bucket))
        except ClientError:
            return False
        return True

    def _retrying(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, retrying connection errors while the server is starting (``ready_timeout``)."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                return action()
            except EndpointConnectionError as error:
                if time.monotonic() > deadline:
                    raise UnavailableError(f"the S3 server at {self.admin.url} does not answer: {error}") from error
            except ClientError as error:
                if _code(error) in {"InvalidAccessKeyId", "SignatureDoesNotMatch"} and _is_admin_error(error):
                    raise UnavailableError(
                        f"the S3 server at {self.admin.url} refuses the platform's admin keys ({_code(error)})"
                    ) from error
                raise
            time.sleep(0.1)


def _is_admin_error(error: Exception) -> bool:
    operation = getattr(error, "operation_name", "")
    return operation in {"CreateBucket", "CreateUser", "PutUserPolicy", "CreateAccessKey"}


def _code(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _boto3_client(service: str, endpoint: S3Endpoint, session_token: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
        aws_session_token=session_token or None,
        region_name=endpoint.region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )
