// README: Real-time Streaming (TypeScript).
import { FaaSClient } from '@faas/sdk';

const client = new FaaSClient({ apiKey: process.env.FAAS_API_KEY }); // README: the client of the Quick Start
// README: a running execution to stream: it reports progress, prints what it reads from stdin,
// writes to stderr, and exits 3. (It runs without a terminal, so that stderr stays apart from
// stdout: `resize` is then a no-op; test/api/gateway.test.ts shows it on a terminal.)
const executionId = await client.start({
  code: 'faas-progress 50 "half way"\nread -r line\necho "got: $line"\necho "warning" >&2\nexit 3',
  language: 'bash',
  interactive: true,
});

// Stream execution output
const stream = client.stream(executionId);

stream.on('output', (data) => {
  console.log('Output:', data);
});

stream.on('error', (error) => {
  console.error('Error:', error);
});

stream.on('progress', (progress) => {
  console.log(`Progress: ${progress.percent}% - ${progress.message}`);
});

stream.on('complete', (exitCode) => {
  console.log('Completed with exit code:', exitCode);
});

// Send input to running execution
stream.sendInput('user input\n');

// Resize terminal
stream.resize(120, 40);

const result = await stream.wait(); // README: not in the snippet; waits for the end
console.log('SNIPPET streaming', JSON.stringify(result.stdout), result.exitCode);
