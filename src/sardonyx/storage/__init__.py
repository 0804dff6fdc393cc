"""Object storage: the embedded SeaweedFS, per-project buckets and credentials, browsing.

Public API:
    SeaweedFS, S3Endpoint, weed_binary        -- the embedded server (``seaweedfs``)
    CredentialIssuer, S3Credentials, ...      -- the one place S3 credentials are issued (``credentials``)
    BucketBrowser, Listing, S3Object, S3Folder -- list/upload/download/delete/presign (``browse``)
    running_seaweedfs, project_credentials    -- a real server for tests (``testing``)
"""

from sardonyx.storage.browse import BucketBrowser, Listing, S3Folder, S3Object, validate_key
from sardonyx.storage.credentials import (
    CredentialIssuer,
    CredentialSource,
    CredentialStore,
    MemoryCredentialStore,
    S3Credentials,
    bucket_policy,
    validate_bucket_name,
)
from sardonyx.storage.seaweedfs import S3Endpoint, SeaweedFS, weed_binary

__all__ = [
    "BucketBrowser",
    "CredentialIssuer",
    "CredentialSource",
    "CredentialStore",
    "Listing",
    "MemoryCredentialStore",
    "S3Credentials",
    "S3Endpoint",
    "S3Folder",
    "S3Object",
    "SeaweedFS",
    "bucket_policy",
    "validate_bucket_name",
    "validate_key",
    "weed_binary",
]
