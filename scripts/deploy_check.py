#!/usr/bin/env python3
"""The deploy check's Python half (scripts/deploy-check.sh runs it with .venv-deploy's interpreter, which has the
SAM translator and boto3 from scripts/requirements-deploy.txt).

  functions TEMPLATE                       every rust-cargolambda function: "<LogicalId> <Binary>" per line
  verify-arch BUILD_DIR ARCH               every BUILD_DIR/*/bootstrap is an ELF of ARCH (arm64 | x86_64)
  env TEMPLATE MOTO_URL LOGICAL_ID         seed moto and print the function's environment (KEY=VALUE lines)
  token [ROLE]                             an HS256 token (bidder | seller | admin) signed with the check's secret
  invoke TEMPLATE BUILD_DIR MOTO_URL       run each built bootstrap behind cargo lambda's Runtime API emulator
                                           with the sample events (create, list, get, bid, $connect, sync, close,
                                           $disconnect) and check every answer

A function's environment is the one the template gives it after the SAM transform (Globals merged), with every
intrinsic resolved against emulated resources created in moto from their template properties: a DynamoDB table,
an SQS queue, an SSM parameter; a function name for a function; an id for an API. Two additions stand in for the
Lambda service: its reserved variables (region, credentials, memory size, runtime API) and AWS_ENDPOINT_URL
(every SDK client goes to moto). One rewrite: a WebSocket API's callback URL (https://<api>.execute-api.…/<stage>)
becomes moto's Management API (moto serves it at its root). A variable named *_PARAMETER names an SSM parameter:
it is created (SecureString) with the check's secret when missing, as an operator does before deploying.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REGION = "us-east-1"
STACK = "deploy-check"
ACCOUNT = "123456789012"
# The secret the check signs its tokens with and gives the stack (a NoEcho parameter without default, or an SSM
# parameter). Not a real secret: it never leaves this machine.
SECRET = "deploy-check-secret-0123456789abcdef"
EVENTS = Path(__file__).resolve().parent.parent / "events"
ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}


def fail(msg):
    print(f"deploy-check: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- template


def sam_template(path):
    from samcli.yamlhelper import parse_yaml_file

    return parse_yaml_file(str(path))


def parameters(sam):
    """Defaults; a parameter without one gets the check's secret if NoEcho, else an SSM-style name of its own
    (what an operator would pass, e.g. the name of a parameter holding a secret; see *_PARAMETER below)."""
    values = {}
    for name, p in sam.get("Parameters", {}).items():
        if "Default" in p:
            values[name] = p["Default"]
        elif p.get("NoEcho"):
            values[name] = SECRET
        else:
            values[name] = f"/{STACK}/{name}"
    return values


def transformed(path, params):
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the template names no AWS managed policy by name (offline transform)
        def load(self):
            return {}

    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator's pseudo parameters; nothing is called
    sam = sam_template(path)
    for logical, r in sam["Resources"].items():
        if r["Type"] == "AWS::Serverless::Function":  # what `sam package` does: the code is uploaded to S3
            r["Properties"]["CodeUri"] = f"s3://{STACK}/{logical}"
    return transform(sam, dict(params), NoManagedPolicies())


def cargolambda_functions(sam):
    for logical, r in sam["Resources"].items():
        meta = r.get("Metadata", {})
        if r["Type"] == "AWS::Serverless::Function" and meta.get("BuildMethod") == "rust-cargolambda":
            yield logical, meta["BuildProperties"]["Binary"]


def routes(sam):
    """What invokes each function, from the template: an HTTP route key, a WebSocket route key, a schedule."""
    found = {}
    for logical, r in sam["Resources"].items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        for ev in r["Properties"].get("Events", {}).values():
            if ev["Type"] == "HttpApi":
                found[f"{ev['Properties']['Method']} {ev['Properties']['Path']}"] = logical
            elif ev["Type"] == "Schedule":
                found["schedule"] = logical
    res = sam["Resources"]
    for r in res.values():
        if r["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        target = r["Properties"]["Target"]
        target = target.get("Fn::Sub", target) if isinstance(target, dict) else target
        integration = re.search(r"integrations/\$\{(\w+)\}", target).group(1)
        uri = res[integration]["Properties"]["IntegrationUri"]
        uri = uri.get("Fn::Sub", uri) if isinstance(uri, dict) else uri
        found[r["Properties"]["RouteKey"]] = re.search(r"\$\{(\w+)\.Arn\}", uri).group(1)
    return found


# ---------------------------------------------------------------- emulated resources


class Emulation:
    def __init__(self, cfn, params, moto_url):
        import boto3

        self.res = cfn["Resources"]
        self.params = params
        self.moto = moto_url
        self.refs = {}
        kw = dict(
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id="deploy-check",
            aws_secret_access_key="deploy-check",
        )
        self.ddb = boto3.client("dynamodb", **kw)
        self.sqs = boto3.client("sqs", **kw)
        self.ssm = boto3.client("ssm", **kw)
        self.sfn = boto3.client("stepfunctions", **kw)
        self.secrets = boto3.client("secretsmanager", **kw)
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::StackName": STACK,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name not in self.refs:
            self.refs[name] = self.create(name)
        return self.refs[name]["Ref"]

    def getatt(self, name, attr):
        self.ref(name)
        try:
            return self.refs[name][attr]
        except KeyError:
            fail(f"no emulation of {name}.{attr} ({self.res[name]['Type']})")

    def create(self, logical):
        r = self.res[logical]
        t, raw = r["Type"], r.get("Properties", {})
        seeded = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SSM::Parameter")
        # Only what is created in moto needs its properties; a function's (its role, its code) are not emulated.
        p = {k: self.resolve(v) for k, v in raw.items()} if t in seeded else {
            k: v for k, v in raw.items() if isinstance(v, str)}
        if t == "AWS::DynamoDB::Table":
            name = p.get("TableName", f"{STACK}-{logical}")
            args = dict(
                TableName=name,
                KeySchema=p["KeySchema"],
                AttributeDefinitions=p["AttributeDefinitions"],
                BillingMode=p.get("BillingMode", "PAY_PER_REQUEST"),
            )
            if p.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
            try:
                arn = self.ddb.create_table(**args)["TableDescription"]["TableArn"]
            except self.ddb.exceptions.ResourceInUseException:  # seeded by an earlier run on this moto
                arn = self.ddb.describe_table(TableName=name)["Table"]["TableArn"]
            ttl = p.get("TimeToLiveSpecification")
            if ttl:
                self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            return {"Ref": name, "Arn": arn}
        if t == "AWS::SQS::Queue":
            fifo = bool(p.get("FifoQueue"))
            name = p.get("QueueName", f"{STACK}-{logical}" + (".fifo" if fifo else ""))
            scalar = (
                "FifoQueue ContentBasedDeduplication DeduplicationScope FifoThroughputLimit VisibilityTimeout "
                "MessageRetentionPeriod DelaySeconds MaximumMessageSize ReceiveMessageWaitTimeSeconds"
            ).split()
            attrs = {k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in scalar if k in p}
            url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
        if t == "AWS::SSM::Parameter":
            name = p.get("Name", f"/{STACK}/{logical}")
            self.ssm.put_parameter(Name=name, Value=str(p["Value"]), Type=p.get("Type", "String"), Overwrite=True)
            return {"Ref": name, "Type": p.get("Type", "String"), "Value": p["Value"]}
        if t == "AWS::SecretsManager::Secret":
            # The JWT key: the check's own secret, as if Secrets Manager had generated it.
            name = p.get("Name", f"{STACK}-{logical}")
            try:
                arn = self.secrets.create_secret(Name=name, SecretString=SECRET)["ARN"]
            except self.secrets.exceptions.ResourceExistsException:
                arn = self.secrets.describe_secret(SecretId=name)["ARN"]
            return {"Ref": arn, "Arn": arn, "Id": arn}
        if t == "AWS::StepFunctions::StateMachine":
            # The close timer: created so that create-auction's StartExecution has a state machine to start
            # (moto records executions; it does not run them — the check's close is the schedule's run).
            name = p.get("StateMachineName", f"{STACK}-{logical}")
            definition = p.get("Definition") or {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
            try:
                arn = self.sfn.create_state_machine(
                    name=name,
                    definition=json.dumps(definition),
                    roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                )["stateMachineArn"]
            except self.sfn.exceptions.StateMachineAlreadyExists:
                arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            return {"Ref": arn, "Arn": arn, "Name": name}
        if t == "AWS::Lambda::Function":
            name = p.get("FunctionName", f"{STACK}-{logical}")
            return {"Ref": name, "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}
        if t in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
            return {"Ref": "emu" + hashlib.sha1(logical.encode()).hexdigest()[:7], "ApiEndpoint": ""}
        if t == "AWS::Logs::LogGroup":
            return {"Ref": p.get("LogGroupName", logical), "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:x"}
        fail(f"no emulation of a reference to {logical} ({t})")

    def resolve(self, v):
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return self.ref(a)
            if k == "Fn::GetAtt":
                name, attr = a if isinstance(a, list) else a.split(".", 1)
                return self.getatt(name, attr)
            if k == "Fn::Sub":
                text, extra = (a, {}) if isinstance(a, str) else (a[0], self.resolve(a[1]))

                def one(m):
                    key = m.group(1)
                    if key.startswith("!"):
                        return "${" + key[1:] + "}"
                    if key in extra:
                        return str(extra[key])
                    if "." in key and key.split(".", 1)[0] in self.res:
                        return str(self.getatt(*key.split(".", 1)))
                    return str(self.ref(key))

                return re.sub(r"\$\{([^}]+)\}", one, text)
            if k == "Fn::Join":
                return a[0].join(str(x) for x in self.resolve(a[1]))
            if k == "Fn::Select":
                return self.resolve(a[1])[int(a[0])]
        return {k: self.resolve(x) for k, x in v.items()}

    def environment(self, logical, cfn_function, runtime_api=None):
        props = cfn_function["Properties"]
        env = {k: str(self.resolve(v)) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        for k, v in list(env.items()):
            if re.fullmatch(r"https://[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com/[^/]+", v):
                env[k] = self.moto  # the WebSocket API's callback URL → moto's Management API
            if k.endswith("_PARAMETER"):
                try:
                    self.ssm.get_parameter(Name=v)
                except self.ssm.exceptions.ParameterNotFound:
                    self.ssm.put_parameter(Name=v, Value=SECRET, Type="SecureString")
        # What the Lambda service adds (reserved variables), and the endpoint override that makes moto "AWS".
        env.update(
            {
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "deploy-check",
                "AWS_SECRET_ACCESS_KEY": "deploy-check",
                "AWS_SESSION_TOKEN": "deploy-check",
                "AWS_LAMBDA_FUNCTION_NAME": "_",  # the name cargo lambda's emulator serves without a project
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{STACK}-{logical}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "deploy-check",
                "LAMBDA_TASK_ROOT": "/var/task",
                "TZ": ":UTC",
                "LANG": "en_US.UTF-8",
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "AWS_ENDPOINT_URL": self.moto,
            }
        )
        if runtime_api:
            env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
        return env


# ---------------------------------------------------------------- tokens and events


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def token(sub, name, role):
    """A session token as shared/src/auth.rs takes it: iss, aud, iat, a lifetime under 24 h."""
    now = int(time.time())
    return jwt({"sub": sub, "name": name, "role": role, "iss": "live-auction", "aud": "live-auction:api",
                "iat": now, "exp": now + 3600})


def ticket(sub, name, auction):
    """A WebSocket connect ticket (what POST /auctions/{id}/ticket mints): one auction, 30 s."""
    now = int(time.time())
    return jwt({"sub": sub, "name": name, "role": "bidder", "iss": "live-auction", "aud": "live-auction:ws-connect",
                "auc": auction, "iat": now, "exp": now + 30})


SAMPLE_AUCTION = json.loads((EVENTS / "get-auction.json").read_text())["pathParameters"]["id"]


def event(name, tok=None, auction=None, body=None):
    text = (EVENTS / name).read_text()
    if tok:
        text = text.replace("REPLACE_WITH_TOKEN", tok)
    if auction:
        text = text.replace(SAMPLE_AUCTION, auction)
    ev = json.loads(text)
    if body is not None:
        ev["body"] = json.dumps(body)
    return ev


def route_of(ev):
    if "routeKey" in ev and "version" in ev:
        return ev["routeKey"]
    if "requestContext" in ev and "routeKey" in ev["requestContext"]:
        return ev["requestContext"]["routeKey"]
    if ev.get("source") == "aws.events":
        return "schedule"
    fail(f"cannot tell what invokes {ev}")


# ---------------------------------------------------------------- the emulator


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            fail(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    fail(f"{what} did not listen on {port}")


def invoke_once(logical, bootstrap, env_of, payload, timeout):
    """One cold start and one invocation: cargo lambda's Runtime API emulator (watch --only-lambda-apis), the
    bootstrap with the function's environment, then `cargo lambda invoke`. Returns (answer, log lines)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "function.log"
        emulator = subprocess.Popen(
            ["cargo", "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(port), "--timeout", str(timeout)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        function = None
        try:
            wait_port(port, emulator, "cargo lambda watch")
            env = env_of(f"http://127.0.0.1:{port}/.rt")
            with open(log, "wb") as out:
                function = subprocess.Popen([str(bootstrap)], env=env, stdout=out, stderr=subprocess.STDOUT)
            data = Path(tmp) / "event.json"
            data.write_text(json.dumps(payload))
            done = subprocess.run(
                ["cargo", "lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
                 "--data-file", str(data), "--output-format", "json", "_"],
                capture_output=True, text=True, timeout=timeout + 30,
            )
            lines = log.read_text(errors="replace").splitlines()
            if done.returncode != 0:
                print("\n".join(lines[-20:]), file=sys.stderr)
                fail(f"{logical}: cargo lambda invoke failed: {done.stderr.strip()[-2000:]}")
            return json.loads(done.stdout), lines
        finally:
            for p in (function, emulator):
                if p is not None and p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        p.kill()


def check(cond, what, answer, lines):
    if not cond:
        print("\n".join(lines[-20:]), file=sys.stderr)
        fail(f"{what}: unexpected answer {json.dumps(answer)[:2000]}")


def emf_lines(lines):
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            out.append(doc)
    return out


def run_invocations(template, build_dir, moto_url):
    sam = sam_template(template)
    params = parameters(sam)
    cfn = transformed(template, params)
    emu = Emulation(cfn, params, moto_url)
    invoked_by = routes(sam)

    def call(step, ev):
        logical = invoked_by.get(route_of(ev)) or fail(f"{step}: no function in the template for {route_of(ev)}")
        fn = cfn["Resources"][logical]
        bootstrap = Path(build_dir) / logical / "bootstrap"
        if not bootstrap.is_file():
            fail(f"{step}: {bootstrap} was not built")
        started = time.time()
        answer, lines = invoke_once(
            logical, bootstrap, lambda api: emu.environment(logical, fn, api), ev, int(fn["Properties"].get("Timeout", 3))
        )
        errors = [l for l in lines if '"level":"ERROR"' in l]
        for l in lines:
            if '"level":"WARN"' in l:
                print(f"    {logical} warned: {l[:300]}")
        check(not errors, f"{step} ({logical}) logged an error", errors, lines)
        print(f"  {step:<12} {logical:<22} {time.time() - started:5.1f} s  {json.dumps(answer)[:110]}")
        return answer, lines

    def body(answer):
        return json.loads(answer.get("body") or "null")

    seller = token("deploy-check-seller", "Sally", "seller")
    bidder = token("deploy-check-bidder", "Bob", "bidder")

    # The sample create asks for 300 s; the check asks for 20 s so that the close has something due.
    create = event("create-auction.json", seller)
    create_body = json.loads(create["body"])
    create_body["durationSeconds"] = 20
    a, lines = call("create", event("create-auction.json", seller, body=create_body))
    check(a.get("statusCode") == 201 and body(a)["auction"]["status"] == "active", "create", a, lines)
    auction = body(a)["auction"]
    aid = auction["auctionId"]

    a, lines = call("list", event("list-auctions.json", seller))
    check(a.get("statusCode") == 200 and aid in [x["auctionId"] for x in body(a)["auctions"]], "list", a, lines)

    a, lines = call("get", event("get-auction.json", seller, aid))
    check(a.get("statusCode") == 200 and body(a)["auction"]["auctionId"] == aid and body(a)["bids"] == [], "get", a, lines)

    a, lines = call("bid", event("place-bid.json", bidder, aid))
    b = body(a)
    check(a.get("statusCode") == 201 and b["bid"]["amount"] == 12500 and b["seq"] == 1, "bid", a, lines)
    accepted = [d for d in emf_lines(lines) if d.get("BidsAccepted") == 1]
    check(accepted, "bid: the EMF line BidsAccepted", emf_lines(lines), lines)

    a, lines = call("$connect", event("ws-connect.json", ticket("deploy-check-viewer", "Vera", aid), aid))
    check(a.get("statusCode") == 200, "$connect", a, lines)

    a, lines = call("sync", event("ws-default.json", None, aid))
    check(a.get("statusCode") == 200, "sync", a, lines)

    wait = auction["endsAt"] / 1000 + 1 - time.time()
    if wait > 0:
        print(f"  (waiting {wait:.0f} s for the auction's endsAt)")
        time.sleep(wait)
    a, lines = call("close", event("close-auctions.json"))
    check(aid in a.get("closed", []) and a.get("errors") == 0, "close", a, lines)

    a, lines = call("$disconnect", event("ws-disconnect.json", None, aid))
    check(a.get("statusCode") == 200, "$disconnect", a, lines)

    # The bid and the close were handed to the publisher: two jobs on the queue, seq 1 and 2; and the viewer
    # joining and leaving: two viewer-count jobs.
    bid_env = emu.environment("PlaceBidFunction", cfn["Resources"][invoked_by["POST /auctions/{id}/bids"]]).values()
    queue = next((v for k, v in emu.refs.items() if cfn["Resources"][k]["Type"] == "AWS::SQS::Queue"
                  and v["Ref"] in bid_env), None)
    if queue:
        msgs = emu.sqs.receive_message(QueueUrl=queue["Ref"], MaxNumberOfMessages=10).get("Messages", [])
        jobs = [json.loads(m["Body"]) for m in msgs]
        jobs = [j for j in jobs if j.get("auctionId") == aid]
        seqs = sorted(j["seq"] for j in jobs if not j.get("viewers"))
        viewer_jobs = [j for j in jobs if j.get("viewers")]
        if seqs != [1, 2] or not viewer_jobs:
            attrs = emu.sqs.get_queue_attributes(QueueUrl=queue["Ref"], AttributeNames=["All"])["Attributes"]
            fail(f"publish queue: expected the jobs of seq 1 and 2 and a viewer-count job, found {jobs} ({attrs})")
        print(f"  publish queue: the bid's and the close's jobs (seq 1, 2), {len(viewer_jobs)} viewer-count job(s)")
    item = emu.ddb.get_item(TableName=emu.ref("AuctionTable"), Key={"pk": {"S": f"AUCTION#{aid}"}, "sk": {"S": "META"}})
    status = item.get("Item", {}).get("status", {}).get("S")
    if status != "ended":
        fail(f"table: the auction is {status!r}, expected 'ended'")
    print("  table: the auction ended with its bid")


def verify_arch(build_dir, arch):
    want = ELF_MACHINE.get(arch) or fail(f"unknown architecture {arch}")
    found = sorted(Path(build_dir).glob("*/bootstrap"))
    if not found:
        fail(f"no bootstrap under {build_dir}")
    for b in found:
        head = b.read_bytes()[:20]
        machine = int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None
        if machine != want:
            name = {v: k for k, v in ELF_MACHINE.items()}.get(machine, hex(machine or 0))
            fail(f"{b} is built for {name}, the stack's Architecture is {arch}: rebuild with the same value")
    print(f"  {len(found)} bootstrap(s), all {arch}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "functions":
        for logical, binary in cargolambda_functions(sam_template(argv[2])):
            print(logical, binary)
    elif cmd == "verify-arch":
        verify_arch(argv[2], argv[3])
    elif cmd == "env":
        sam = sam_template(argv[2])
        params = parameters(sam)
        cfn = transformed(argv[2], params)
        emu = Emulation(cfn, params, argv[3])
        for k, v in sorted(emu.environment(argv[4], cfn["Resources"][argv[4]]).items()):
            print(f"{k}={v}")
    elif cmd == "token":
        role = argv[2] if len(argv) > 2 else "bidder"
        print(token(f"local-{role}", role.capitalize(), role))
    elif cmd == "invoke":
        run_invocations(argv[2], argv[3], argv[4])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
