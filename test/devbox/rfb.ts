// The VNC side of an RFB handshake, for the tests that check a VNC server takes its password.
import { createCipheriv } from 'node:crypto';

/** VNC auth: DES-encrypt the 16-byte challenge with the password (8 bytes, each bit-reversed). */
export function vncResponse(challenge: Buffer, password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let b = key[i]!;
    let r = 0;
    for (let bit = 0; bit < 8; bit++) {
      r = (r << 1) | (b & 1);
      b >>= 1;
    }
    key[i] = r;
  }
  let cipher;
  try {
    cipher = createCipheriv('des-ecb', key, null);
  } catch {
    // OpenSSL 3 keeps single DES in its legacy provider; 3DES with K1=K2=K3 is the same cipher.
    cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  }
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}
