// README: Quick Start, Execution Modes (ephemeral, cached, checkpointed, branched, persistent).
import { FaaSClient } from '@faas/sdk';

const client = new FaaSClient({
  apiKey: process.env.FAAS_API_KEY, // README: 'your-api-key'
});

{
  // Simple execution
  const result = await client.execute({
    code: 'console.log("Hello World")',
    language: 'javascript',
  });

  console.log(result.stdout);
}

{
  const result = await client.execute({
    code: 'console.log("Stateless")',
    language: 'javascript',
    mode: 'ephemeral',
  });
  console.log('SNIPPET ephemeral', JSON.stringify(result.stdout));
}

{
  const result = await client.execute({
    code: 'console.log("Fast start")',
    language: 'javascript',
    mode: 'cached',
  });
  // Subsequent calls with same config will be faster
  console.log('SNIPPET cached', JSON.stringify(result.stdout));
}

// Checkpointed Mode
// Execute with checkpointing
const result = await client.execute({
  code: `
    // Heavy initialization
    // README: loadLargeDataset() and processData() are the README's placeholders; real ones:
    const loadLargeDataset = () => Array.from({ length: 100000 }, (_, i) => i);
    const processData = (data) => require('fs').writeFileSync('sum.txt', String(data.reduce((a, b) => a + b, 0)));
    const data = loadLargeDataset();
    processData(data);
  `,
  language: 'javascript',
  mode: 'checkpointed',
});

{
  // Create snapshot after execution
  const snapshot = await client.createSnapshot(result.executionId);

  // Restore from snapshot (instant)
  const restored = await client.restoreSnapshot(snapshot.id);
  const sum = await client.execute({ executionId: restored.executionId, code: 'console.log(require("fs").readFileSync("sum.txt", "utf8"))', language: 'javascript', mode: 'checkpointed' });
  console.log('SNIPPET checkpointed', snapshot.id, JSON.stringify(sum.stdout));
}

// Branched Mode
const executionId = result.executionId; // README: the execution the snapshot is taken of
// Create initial snapshot
const snapshot = await client.createSnapshot(executionId);

// Branch 1
const branch1 = await client.createBranch(snapshot.id);
await client.execute({
  executionId: branch1.executionId,
  code: 'require("fs").writeFileSync("path-a.txt", "A")', // README: 'explorePathA()'
  mode: 'branched',
});

// Branch 2 (parallel exploration)
const branch2 = await client.createBranch(snapshot.id);
await client.execute({
  executionId: branch2.executionId,
  code: 'require("fs").writeFileSync("path-b.txt", "B")', // README: 'explorePathB()'
  mode: 'branched',
});

// Merge branches
const merged = await client.mergeBranches([branch1.id, branch2.id]);
console.log('SNIPPET branched', merged.id, merged.summary.added);

// Persistent Mode
// Start persistent instance
const instance = await client.instances.start({
  snapshotId: snapshot.id,
  resources: {
    cpuCores: 2,
    memoryMb: 4096,
    diskGb: 20,
  },
});
try {
  // Get SSH credentials
  const ssh = await client.instances.getSshInfo(instance.id);
  console.log(`SSH: ssh -i key.pem ${ssh.username}@${ssh.host}:${ssh.port}`);

  // Expose HTTP service
  const url = await client.instances.expose(instance.id, {
    name: 'webapp',
    port: 3000,
  });
  console.log(`Web app: ${url}`);
  console.log('SNIPPET persistent', `${url}`, url.url);
} finally {
  await client.instances.stop(instance.id); // README: cleanup
}
