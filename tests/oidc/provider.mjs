// A real OpenID Connect provider for vigie's sign-in tests (tests/oidc.rs): panva's
// oidc-provider (OpenID Certified), on loopback, with one confidential client.
//
// Started by tests/common/oidc.rs with these environment variables:
//   OIDC_PORT           the port to listen on (127.0.0.1)
//   OIDC_CLIENT_ID      the client's id
//   OIDC_CLIENT_SECRET  its secret
//   OIDC_REDIRECT_URI   vigie's /oidc/callback
//   OIDC_MODE           how the token endpoint behaves (default "honest"):
//     honest    the provider as it is;
//     tampered  the ID token's payload is changed (another e-mail) after signing, so its
//               signature no longer matches;
//     expired   the ID token is signed with the provider's key but expired an hour ago;
//     nonce     the ID token is signed with the provider's key but carries another nonce;
//     audience  the ID token is signed with the provider's key but for another client.
//
// People: the login typed on the provider's sign-in page is the person's e-mail address
// (any password), and the subject (`sub`) is that login as typed. A login that starts
// with "unverified:" gives the address after it with email_verified false.
// Prints "oidc-provider listening on URL" once it answers.

import Provider from 'oidc-provider';
import crypto from 'node:crypto';

const port = Number(process.env.OIDC_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const mode = process.env.OIDC_MODE || 'honest';

// The signing key, made here so that the misbehaving modes can sign with it too.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

function person(login) {
  const unverified = login.startsWith('unverified:');
  const email = unverified ? login.slice('unverified:'.length) : login;
  return { email, email_verified: !unverified };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  // Every client must use PKCE (vigie always does).
  pkce: { required: () => true },
  // The e-mail in the ID token itself, as most company providers put it, so the
  // relying party needs no userinfo call.
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: person(id).email.split('@')[0], ...person(id) };
      },
    };
  },
  // Vigie is the company's own application: no consent screen (the provider's
  // documented way to skip it for a first-party client).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    grant.addOIDCClaims(['email', 'email_verified', 'name']);
    await grant.save();
    return grant;
  },
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const unb64 = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());

function resign(header, payload) {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  return `${input}.${sig}`;
}

function misbehave(idToken) {
  const [h, p, s] = idToken.split('.');
  const header = unb64(h);
  const payload = unb64(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'tampered':
      payload.email = 'ceo@example.com';
      return `${h}.${b64(payload)}.${s}`;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      return resign(header, payload);
    case 'nonce':
      payload.nonce = 'not-the-nonce-vigie-sent';
      return resign(header, payload);
    case 'audience':
      payload.aud = 'another-client';
      return resign(header, payload);
    default:
      return idToken;
  }
}

// The token endpoint's answer, changed on its way out in the misbehaving modes.
provider.use(async (ctx, next) => {
  await next();
  if (mode !== 'honest' && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: misbehave(ctx.body.id_token) };
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer} (mode ${mode})`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
