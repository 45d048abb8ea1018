// An ed25519 key pair per instance, in OpenSSH's own formats: the `authorized_keys` line for
// the instance's sshd and an unencrypted `openssh-key-v1` private key that the stock `ssh`
// client and `ssh2` both read.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export interface SshKeyPair {
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` … */
  privateKey: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

export function publicKeyFingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function makeSshKeyPair(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwkPub = publicKey.export({ format: 'jwk' });
  const jwkPriv = privateKey.export({ format: 'jwk' });
  const pub = Buffer.from(jwkPub.x!, 'base64url');
  const seed = Buffer.from(jwkPriv.d!, 'base64url');
  const type = 'ssh-ed25519';
  const pubBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(type), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const nKeys = Buffer.allocUnsafe(4);
  nKeys.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), nKeys, sshString(pubBlob), sshString(priv)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  const publicLine = `${type} ${pubBlob.toString('base64')} ${comment}`;
  return {
    publicKey: publicLine,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
    fingerprint: publicKeyFingerprint(publicLine),
  };
}
