// Ask torale-cred's daemon for the Torale API key and URL (Node, standard library only).
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");

function toraleCredentials(profile) {
  const socketPath = process.env.TORALE_CRED_SOCKET || (process.env.XDG_RUNTIME_DIR
    ? path.join(process.env.XDG_RUNTIME_DIR, "torale", "cred.sock")
    : path.join(os.homedir(), ".torale", "cred.sock"));
  const env = {};
  for (const k of ["TORALE_API_KEY", "TORALE_API_URL", "TORALE_DEV", "TORALE_NOAUTH"]) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const body = JSON.stringify(profile ? { profile, env } : { env });
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: "/v1/resolve", method: "POST",
      headers: { "Content-Type": "application/json" } }, (res) => {
      let data = "";
      res.on("data", (chunk) => (data += chunk));
      res.on("end", () => {
        const answer = JSON.parse(data);
        if (res.statusCode === 200) resolve(answer); // {api_key, api_url, api_key_source, ...}
        else reject(new Error(answer.message || `torale-cred answered ${res.statusCode}`));
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

toraleCredentials(process.env.TORALE_PROFILE).then(async (cred) => {
  const res = await fetch(cred.api_url + "/auth/me", {
    headers: { Authorization: `Bearer ${cred.api_key}` } });
  console.log((await res.json()).email);
}).catch((err) => {
  console.error(["ENOENT", "ECONNREFUSED"].includes(err.code)
    ? "torale-cred's daemon is not running; start it: systemctl --user start torale-cred.socket (or run: torale-cred daemon)"
    : err.message);
  process.exit(1);
});
