// README: Advanced Usage (batch, custom resources, environment variables, input files).
import { FaaSClient } from '@faas/sdk';

const client = new FaaSClient({ apiKey: process.env.FAAS_API_KEY }); // README: the client of the Quick Start

{
  // Execute multiple jobs in parallel
  const jobs = [
    { code: 'console.log("Job 1")', language: 'javascript' },
    { code: 'print("Job 2")', language: 'python' },
    { code: 'fmt.Println("Job 3")', language: 'go' },
  ];

  const results = await Promise.all(
    jobs.map(job => client.execute(job))
  );
  console.log('SNIPPET batch', JSON.stringify(results.map((r) => r.stdout)));
}

// Custom Resources: as written it asks for 2 GPUs, which this operator does not have.
try {
  const result = await client.execute({
    code: 'heavy_computation()',
    language: 'python',
    resources: {
      cpuCores: 8,
      memoryMb: 16384,
      timeoutMs: 300000, // 5 minutes
      gpuCount: 2,
    },
  });
  console.log('SNIPPET resources ran', result.exitCode);
} catch (error) {
  console.log('SNIPPET resources', error.code, error.message);
}

{
  const result = await client.execute({
    code: 'console.log(process.env.MY_VAR)',
    language: 'javascript',
    envVars: {
      MY_VAR: 'secret_value',
      NODE_ENV: 'production',
    },
  });
  console.log('SNIPPET env', JSON.stringify(result.stdout));
}

{
  const result = await client.execute({
    code: `
    const fs = require('fs');
    const data = fs.readFileSync('input.json');
    console.log(JSON.parse(data));
  `,
    language: 'javascript',
    files: {
      'input.json': Buffer.from(JSON.stringify({ key: 'value' })),
    },
  });
  console.log('SNIPPET files', JSON.stringify(result.stdout));
}
