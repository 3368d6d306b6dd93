# Ask torale-cred's daemon for the Torale API key and URL (standard library only).
import http.client, json, os, socket, sys, urllib.request

def torale_credentials(profile=None):
    path = os.environ.get("TORALE_CRED_SOCKET") or (
        os.path.join(os.environ["XDG_RUNTIME_DIR"], "torale", "cred.sock")
        if os.environ.get("XDG_RUNTIME_DIR") else os.path.expanduser("~/.torale/cred.sock"))
    conn = http.client.HTTPConnection("torale")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(path)
    env = {k: v for k, v in os.environ.items()
           if k in ("TORALE_API_KEY", "TORALE_API_URL", "TORALE_DEV", "TORALE_NOAUTH")}
    body = {"env": env, **({"profile": profile} if profile else {})}
    conn.request("POST", "/v1/resolve", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = json.load(resp)
    conn.close()
    if resp.status != 200:
        raise RuntimeError(answer.get("message", f"torale-cred answered {resp.status}"))
    return answer  # {"api_key", "api_url", "api_key_source", ...}

try:
    cred = torale_credentials(os.environ.get("TORALE_PROFILE"))
except (FileNotFoundError, ConnectionRefusedError):
    sys.exit("torale-cred's daemon is not running; start it: systemctl --user start torale-cred.socket (or run: torale-cred daemon)")
except RuntimeError as err:
    sys.exit(str(err))
me = urllib.request.Request(cred["api_url"] + "/auth/me",
                            headers={"Authorization": "Bearer " + cred["api_key"]})
print(json.load(urllib.request.urlopen(me))["email"])
