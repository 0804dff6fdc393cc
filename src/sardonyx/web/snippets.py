"""Ready-to-paste code that reaches the project's bucket, as Onyxia's S3 profile details show it
(``s3ProfilesDetailsUiController/decoupledLogic/codeSnippets.ts``, ONYXIA-REFERENCE 4.5).

Each snippet embeds the endpoint, region and keys of the project's credentials and lists the bucket (or reads
from it); values are quoted for their language (Python ``repr``, shell ``shlex.quote``, R double quotes).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from sardonyx.storage import S3Credentials


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    language: str
    code: str


def _r(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def snippets(c: S3Credentials) -> list[Snippet]:
    """Snippets for boto3, s3fs, pyarrow, polars, DuckDB, R ``arrow``, the AWS CLI and MinIO's ``mc``."""
    scheme, _, host = c.endpoint_url.partition("://")
    secure = scheme == "https"
    token = c.session_token or ""
    key, secret, region, bucket, url = c.access_key_id, c.secret_access_key, c.region, c.bucket, c.endpoint_url
    nl = "\n"
    token_py = f"{nl}    aws_session_token={token!r}," if token else ""
    token_s3fs = f"{nl}    token={token!r}," if token else ""
    token_arrow = f"{nl}    session_token={token!r}," if token else ""
    token_polars = f'{nl}    "aws_session_token": {token!r},' if token else ""
    token_duck = f"{nl}    SESSION_TOKEN '{token}'," if token else ""
    token_r = f"{nl}  session_token = {_r(token)}," if token else ""
    style = "path" if c.path_style_access else "vhost"
    return [
        Snippet(
            "boto3",
            "Python: boto3",
            "python",
            f"""import boto3

s3 = boto3.client(
    "s3",
    endpoint_url={url!r},
    aws_access_key_id={key!r},
    aws_secret_access_key={secret!r},{token_py}
    region_name={region!r},
)
for item in s3.list_objects_v2(Bucket={bucket!r}).get("Contents", []):
    print(item["Key"], item["Size"])
""",
        ),
        Snippet(
            "s3fs",
            "Python: s3fs (pandas, fsspec)",
            "python",
            f"""import s3fs

fs = s3fs.S3FileSystem(
    key={key!r},
    secret={secret!r},{token_s3fs}
    endpoint_url={url!r},
    client_kwargs={{"region_name": {region!r}}},
)
print(fs.ls({bucket!r}))
# pandas: pd.read_csv("s3://{bucket}/data.csv", storage_options={{"key": ..., "secret": ..., "endpoint_url": {url!r}}})
""",
        ),
        Snippet(
            "pyarrow",
            "Python: pyarrow",
            "python",
            f"""import pyarrow.parquet as pq
from pyarrow import fs

s3 = fs.S3FileSystem(
    access_key={key!r},
    secret_key={secret!r},{token_arrow}
    endpoint_override={host!r},
    scheme={scheme!r},
    region={region!r},
)
print(s3.get_file_info(fs.FileSelector({bucket!r})))
# table = pq.read_table("{bucket}/data.parquet", filesystem=s3)
""",
        ),
        Snippet(
            "polars",
            "Python: polars",
            "python",
            f"""import polars as pl

storage_options = {{
    "aws_endpoint_url": {url!r},
    "aws_access_key_id": {key!r},
    "aws_secret_access_key": {secret!r},{token_polars}
    "aws_region": {region!r},
    "aws_allow_http": {'"false"' if secure else '"true"'},
}}
df = pl.read_parquet("s3://{bucket}/data.parquet", storage_options=storage_options)
""",
        ),
        Snippet(
            "duckdb",
            "DuckDB (SQL)",
            "sql",
            "\n".join(
                [
                    "INSTALL httpfs;  -- or LOAD the file of the duckdb-extension-httpfs PyPI package",
                    "LOAD httpfs;",
                    "CREATE SECRET project_s3 (",
                    "    TYPE s3,",
                    f"    KEY_ID '{key}',",
                    f"    SECRET '{secret}',{token_duck}",
                    f"    ENDPOINT '{host}',",
                    f"    REGION '{region}',",
                    f"    URL_STYLE '{style}',",
                    f"    USE_SSL {'true' if secure else 'false'}",
                    ");",
                    f"SELECT * FROM read_parquet('s3://{bucket}/data.parquet') LIMIT 10;",  # noqa: S608 - shown, not run
                    "",
                ]
            ),
        ),
        Snippet(
            "r-arrow",
            "R: arrow",
            "r",
            f"""library(arrow)

bucket <- s3_bucket(
  {_r(bucket)},
  access_key = {_r(key)},
  secret_key = {_r(secret)},{token_r}
  endpoint_override = {_r(host)},
  scheme = {_r(scheme)},
  region = {_r(region)}
)
bucket$ls()
# df <- read_parquet(bucket$path("data.parquet"))
""",
        ),
        Snippet(
            "aws-cli",
            "AWS CLI",
            "shell",
            "\n".join(
                [
                    f"export AWS_ACCESS_KEY_ID={shlex.quote(key)}",
                    f"export AWS_SECRET_ACCESS_KEY={shlex.quote(secret)}",
                    *([f"export AWS_SESSION_TOKEN={shlex.quote(token)}"] if token else []),
                    f"export AWS_DEFAULT_REGION={shlex.quote(region)}",
                    f"export AWS_ENDPOINT_URL={shlex.quote(url)}",
                    f"aws s3 ls s3://{bucket}/",
                    "",
                ]
            ),
        ),
        Snippet(
            "mc",
            "MinIO client (mc)",
            "shell",
            "\n".join(
                [
                    f"mc alias set sardonyx {shlex.quote(url)} {shlex.quote(key)} {shlex.quote(secret)}"
                    + (" --path on" if c.path_style_access else ""),
                    f"mc ls sardonyx/{bucket}",
                    "",
                ]
            ),
        ),
    ]
