// Suite-wide leak check: whatever the tests did, no sandbox container, image layer or host
// temp dir of ours may outlive the run. A leak fails the run.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Docker from 'dockerode';
import { MANAGED_LABEL } from '../src/sandbox/labels.js';

const docker = new Docker();
const managed = async () =>
  (await docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } })).map((c) => c.Id);
const images = async () => (await docker.listImages({ all: true })).map((i) => i.Id).sort();
const ourTemp = () => readdirSync(tmpdir()).filter((f) => /faas|sandbox/i.test(f));

export default async function setup(): Promise<() => Promise<void>> {
  const before = { containers: new Set(await managed()), images: await images(), temp: new Set(ourTemp()) };
  return async () => {
    const leaked = {
      containers: (await managed()).filter((id) => !before.containers.has(id)),
      images: (await images()).filter((id) => !before.images.includes(id)),
      temp: ourTemp().filter((f) => !before.temp.has(f)),
    };
    if (leaked.containers.length || leaked.images.length || leaked.temp.length) {
      throw new Error(`the test run leaked: ${JSON.stringify(leaked)}`);
    }
    process.stdout.write('leak check: no container, image or temp dir left behind\n');
  };
}
