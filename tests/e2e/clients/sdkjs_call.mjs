// Calls the @connections management API with the AWS SDK for JavaScript v3 in a process of its
// own, so that environment variables read once at startup (NODE_EXTRA_CA_CERTS) apply to it.
//
//   node sdkjs_call.mjs < request.json
//
// Request (stdin, JSON):
//   {"endpoint": "https://127.0.0.1:PORT/dev", "region": "us-east-1",
//    "accessKeyId": "...", "secretAccessKey": "...",
//    "calls": [{"op": "post", "id": "...", "text": "hi"}, {"op": "get", "id": "..."},
//              {"op": "delete", "id": "..."}]}
//
// Output (stdout, JSON): {"results": [...]}, one per call:
//   success: {"ok": true, "status": httpStatusCode, "response": {...}} ($metadata removed)
//   error:   {"ok": false, "name": err.name, "code": err.code (e.g. SELF_SIGNED_CERT_IN_CHAIN),
//             "message": err.message, "status": httpStatusCode or null}
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function command(call) {
  switch (call.op) {
    case 'post': return new PostToConnectionCommand({ ConnectionId: call.id, Data: Buffer.from(call.text ?? '', 'utf8') });
    case 'get': return new GetConnectionCommand({ ConnectionId: call.id });
    case 'delete': return new DeleteConnectionCommand({ ConnectionId: call.id });
    default: throw new Error(`unknown op ${call.op}`);
  }
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const client = new ApiGatewayManagementApiClient({
  endpoint: req.endpoint,
  region: req.region ?? 'us-east-1',
  credentials: { accessKeyId: req.accessKeyId, secretAccessKey: req.secretAccessKey },
  maxAttempts: 1,
});
const results = [];
for (const call of req.calls) {
  try {
    const { $metadata, ...response } = await client.send(command(call));
    results.push({ ok: true, status: $metadata.httpStatusCode, response });
  } catch (err) {
    results.push({ ok: false, name: err.name, code: err.code ?? null, message: err.message, status: err.$metadata?.httpStatusCode ?? null });
  }
}
client.destroy();
process.stdout.write(`${JSON.stringify({ results })}\n`);
