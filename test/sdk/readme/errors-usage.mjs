// README: Error Handling, Usage Tracking, Configuration (TypeScript).
import { FaaSClient } from '@faas/sdk';

{
  const client = new FaaSClient({
    apiKey: process.env.FAAS_API_KEY, // README: 'your-api-key'
    endpoint: process.env.FAAS_ENDPOINT, // README: 'https://api.faas.platform' // Optional custom endpoint
    timeout: 30000, // Request timeout in ms
    maxRetries: 3, // Automatic retry on failure
    debug: true, // Enable debug logging
  });
  const r = await client.execute({ code: 'print("configured")', language: 'python' }); // README: a call to log
  console.log('SNIPPET config', JSON.stringify(r.stdout));
}

const client = new FaaSClient({ apiKey: process.env.FAAS_API_KEY }); // README: the client of the Quick Start

try {
  const result = await client.execute({
    code: 'invalid syntax',
    language: 'python',
  });
  console.log('SNIPPET error none', result.exitCode);
} catch (error) {
  if (error.code === 'EXECUTION_ERROR') {
    console.error('Execution failed:', error.message);
    console.error('Stderr:', error.stderr);
    console.log('SNIPPET error', error.code, error.stderr.includes('SyntaxError'));
  } else if (error.code === 'RATE_LIMIT_EXCEEDED') {
    console.error('Rate limit hit, retry after:', error.resetAt);
  }
}

{
  // Get usage for current month
  const usage = await client.usage.getMetrics();
  console.log(`Executions: ${usage.executions.totalCount}`);
  console.log(`CPU seconds: ${usage.executions.cpuSeconds}`);
  console.log(`Total cost: $${usage.costs.totalCost}`);

  // Get usage for specific period
  const historicalUsage = await client.usage.getMetrics({
    startDate: '2024-01-01',
    endDate: '2024-01-31',
  });
  console.log('SNIPPET metrics', usage.executions.totalCount, typeof usage.executions.cpuSeconds, typeof usage.costs.totalCost, historicalUsage.executions.totalCount);
}

{
  // Get real-time usage
  const current = await client.usage.getCurrent();
  console.log(`Balance: $${current.currentBalance}`);
  console.log(`Rate limit remaining: ${current.rateLimitRemaining}`);
  console.log(`Active executions: ${current.activeExecutions}`);
  console.log('SNIPPET current', typeof current.currentBalance, typeof current.rateLimitRemaining, current.activeExecutions);
}
