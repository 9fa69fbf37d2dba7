#!/usr/bin/python3
"""Calls the @connections management API with boto3 (Debian's python3-boto3) and prints JSON.

Run with Debian's interpreter: /usr/bin/python3 boto3_call.py < request.json

Request (stdin, JSON):
  {"endpoint": "http://127.0.0.1:PORT/dev", "region": "us-east-1",
   "accessKeyId": "...", "secretAccessKey": "...", "sessionToken": null,
   "maxAttempts": null,                 # total attempts; null: botocore's default retry settings
   "verify": null,                      # https:// endpoints: CA bundle file (boto3's verify=); null: default
   "calls": [{"op": "post", "id": "...", "text": "hi"},      # Data = UTF-8 of text
             {"op": "post", "id": "...", "b64": "..."},      # Data = base64-decoded bytes
             {"op": "post", "id": "...", "size": 65536, "fill": "x"},
             {"op": "get", "id": "..."}, {"op": "delete", "id": "..."}]}

Output (stdout, JSON): {"boto3": version, "botocore": version, "results": [...]}, one result per call:
  success: {"ok": true, "status": HTTPStatusCode, "response": {...}}  (datetimes as isoformat,
           ResponseMetadata removed; "retryAttempts" kept)
  error:   {"ok": false, "error": Code, "message": ..., "status": HTTPStatusCode,
            "caughtAs": name of the exception class that caught it ("GoneException", ...
            or "ClientError" when no modeled class matched), "isModeled": bool,
            "retryAttempts": n}
"""
import base64
import datetime
import json
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError


def jsonable(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode()
    return v


def data_of(call):
    if "text" in call:
        return call["text"].encode("utf-8")
    if "b64" in call:
        return base64.b64decode(call["b64"])
    if "size" in call:
        fill = call.get("fill", "x").encode("utf-8")
        return (fill * call["size"])[: call["size"]]
    return b""


def error_result(e, caught_as, modeled):
    meta = e.response.get("ResponseMetadata", {})
    return {
        "ok": False,
        "error": e.response.get("Error", {}).get("Code"),
        "message": e.response.get("Error", {}).get("Message"),
        "status": meta.get("HTTPStatusCode"),
        "caughtAs": caught_as,
        "isModeled": modeled,
        "retryAttempts": meta.get("RetryAttempts"),
    }


def main():
    req = json.load(sys.stdin)
    config_args = {}
    if req.get("maxAttempts"):
        # Total attempts, first one included. (botocore's "max_attempts" counts retries only, so
        # {"max_attempts": 1} would still retry once.)
        config_args["retries"] = {"total_max_attempts": req["maxAttempts"], "mode": "standard"}
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=req["endpoint"],
        region_name=req.get("region", "us-east-1"),
        aws_access_key_id=req["accessKeyId"],
        aws_secret_access_key=req["secretAccessKey"],
        aws_session_token=req.get("sessionToken") or None,
        config=Config(**config_args),
        verify=req.get("verify") or None,
    )
    ex = client.exceptions
    results = []
    for call in req["calls"]:
        op = call["op"]
        try:
            if op == "post":
                resp = client.post_to_connection(ConnectionId=call["id"], Data=data_of(call))
            elif op == "get":
                resp = client.get_connection(ConnectionId=call["id"])
            elif op == "delete":
                resp = client.delete_connection(ConnectionId=call["id"])
            else:
                raise SystemExit("unknown op " + op)
            meta = resp.pop("ResponseMetadata", {})
            results.append({"ok": True, "status": meta.get("HTTPStatusCode"),
                            "retryAttempts": meta.get("RetryAttempts"), "response": jsonable(resp)})
        # Caught by class: proves boto3 raised the modeled exception, not just a ClientError code.
        except ex.GoneException as e:
            results.append(error_result(e, "GoneException", True))
        except ex.PayloadTooLargeException as e:
            results.append(error_result(e, "PayloadTooLargeException", True))
        except ex.ForbiddenException as e:
            results.append(error_result(e, "ForbiddenException", True))
        except ex.LimitExceededException as e:
            results.append(error_result(e, "LimitExceededException", True))
        except ClientError as e:
            results.append(error_result(e, "ClientError", False))
        except botocore.exceptions.BotoCoreError as e:
            results.append({"ok": False, "error": type(e).__name__, "message": str(e), "caughtAs": type(e).__name__,
                            "isModeled": False})
    json.dump({"boto3": boto3.__version__, "botocore": botocore.__version__, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
