/**
 * The text `npm start` prints once Herald is up: where it listens and a ready-to-paste tour
 * (provision a resource as Heroku would, create an endpoint, send a message, open the dashboard).
 * Pure, so a test can check the commands it prints really work.
 */
export interface WalkthroughInput {
  publicUrl: string;
  /** The partner API's Basic auth: the add-on id and password (the manifest's outside production). */
  addonId: string;
  apiPassword: string;
  /** A fresh uuid: the resource the first curl creates. */
  resourceId: string;
  /** The HERALD_API_KEY that provisioning will return for it (keys are derived, so known in advance). */
  apiKey: string;
  /** The development-only sign-in link to that resource's dashboard. */
  dashboardUrl: string;
  /** One line on where the data lives. */
  database: string;
  allowPrivateTargets: boolean;
  /** Where the tour's receiver listens (8080). */
  receiverPort?: number;
}

/** A receiver that prints each delivery; node -e keeps the tour free of extra installs. */
const receiver = (port: number) =>
  `node -e "require('http').createServer((q,s)=>{let b='';q.on('data',c=>b+=c);q.on('end',()=>{console.log(q.method,q.url,b);s.end()})}).listen(${port})"`;

/** Single-quoted for a POSIX shell. */
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function walkthrough(i: WalkthroughInput): string {
  const provision = JSON.stringify({
    uuid: i.resourceId,
    plan: 'test',
    region: 'amazon-web-services::us-east-1',
    name: 'my-app-herald',
  });
  const apiUrl = `${i.publicUrl}/v1`;
  const receiverPort = i.receiverPort ?? 8080;
  const endpoint = JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/webhooks`, description: 'walkthrough receiver' });
  const message = JSON.stringify({ event_type: 'order.created', data: { order_id: 'ord_1001', total: 4200 } });
  const privateNote = i.allowPrivateTargets
    ? ''
    : `\n   (This Herald refuses private targets such as 127.0.0.1: restart it with ALLOW_PRIVATE_TARGETS=true,\n    or point the endpoint at a public URL.)\n`;

  return `
Herald is running.
  web + worker  ${i.publicUrl}
  database      ${i.database}
  health        ${i.publicUrl}/healthz
  stop          Ctrl-C (drains requests and deliveries, then stops the database)

Try it, in another terminal:

1. Provision an add-on resource, as Heroku would (partner API, Basic auth with the manifest's credentials):

curl -sS -u ${sq(`${i.addonId}:${i.apiPassword}`)} -H 'Content-Type: application/json' \\
  -d ${sq(provision)} \\
  ${i.publicUrl}/heroku/resources

   Heroku would then set these config vars on the app:

export HERALD_URL=${apiUrl}
export HERALD_API_KEY=${i.apiKey}

2. Start a receiver that prints what it gets (a third terminal):

${receiver(receiverPort)}

3. Create an endpoint and send a message with that key (same terminal as the exports):

curl -sS -H "Authorization: Bearer $HERALD_API_KEY" -H 'Content-Type: application/json' \\
  -d ${sq(endpoint)} \\
  "$HERALD_URL/endpoints"

curl -sS -H "Authorization: Bearer $HERALD_API_KEY" -H 'Content-Type: application/json' \\
  -d ${sq(message)} \\
  "$HERALD_URL/messages"
${privateNote}
   The receiver prints the signed delivery a moment later (the worker in this process sends it).

4. Open the resource's dashboard (development-only sign-in, no Heroku needed):

${i.dashboardUrl}

`;
}
