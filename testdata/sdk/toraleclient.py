# A faithful copy of how the official Torale SDK's ToraleClient() resolves
# its key and URL (backend/src/torale/sdk/client.py): the api_key argument,
# then TORALE_API_KEY, then api_key in ~/.torale/config.json, read afresh
# each time a client is built, read and JSON errors swallowed; the URL from
# the api_url argument, TORALE_API_URL, http://localhost:8000 when
# TORALE_DEV or TORALE_NOAUTH is exactly "1", config.json's api_url, then
# https://api.torale.ai. The key is fixed into the client's headers as
# "Authorization: Bearer <key>". Standard library only (urllib), so the
# tests need no package.
#
# Usage: toraleclient.py METHOD PATH [BODY]
# Prints one JSON object: the answer's status and body, and this process's
# environment and argv (so a test can check no key reached them).
import json, os, sys, urllib.error, urllib.request


class AuthenticationError(Exception):
    pass


class ToraleClient:
    def __init__(self, api_key=None, api_url=None):
        config = {}
        path = os.path.expanduser("~/.torale/config.json")
        if os.path.exists(path):
            try:
                with open(path) as f:
                    config = json.load(f)
            except Exception:
                pass
        self.api_key = api_key or os.getenv("TORALE_API_KEY") or config.get("api_key")
        if api_url:
            self.api_url = api_url
        elif os.getenv("TORALE_API_URL"):
            self.api_url = os.getenv("TORALE_API_URL")
        elif os.getenv("TORALE_DEV") == "1" or os.getenv("TORALE_NOAUTH") == "1":
            self.api_url = "http://localhost:8000"
        else:
            self.api_url = config.get("api_url") or "https://api.torale.ai"
        if not self.api_key and os.getenv("TORALE_NOAUTH") != "1":
            raise AuthenticationError(
                "No API key provided. Set TORALE_API_KEY environment variable or pass api_key parameter.")
        self.headers = {"Content-Type": "application/json"}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"

    def request(self, method, path, body=None):
        data = None if body is None else body.encode()
        req = urllib.request.Request(self.api_url.rstrip("/") + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


if __name__ == "__main__":
    method, path = sys.argv[1], sys.argv[2]
    body = sys.argv[3] if len(sys.argv) > 3 else None
    status, text = ToraleClient().request(method, path, body)
    print(json.dumps({"status": status, "body": text, "environ": dict(os.environ), "argv": sys.argv}))
