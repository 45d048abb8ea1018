// The named schemas of /openapi.json (components.schemas), generated from the zod schemas the
// handlers validate with and answer in. Requests are described as a client may send them
// (zod's input side: fields with defaults are optional); answers as the server sends them
// (output side). JSON Schema 2020-12, the dialect of OpenAPI 3.1.
import { z } from 'zod';
import {
  BranchInfoSchema,
  CreateBranchBodySchema,
  CreateSnapshotBodySchema,
  CurrentUsageSchema,
  ErrorBodySchema,
  ExecuteBodySchema,
  ExecutionInfoSchema,
  ExecutionInputAnswerSchema,
  ExecutionResultSchema,
  ExposeBodySchema,
  ExposureSchema,
  FileArchiveBodySchema,
  FileDeleteBodySchema,
  FileListBodySchema,
  FileListSchema,
  FileUploadResultSchema,
  InstanceExecBodySchema,
  InstanceExecResultSchema,
  InstanceInfoSchema,
  InstanceListSchema,
  InstanceStartBodySchema,
  JupyterInfoSchema,
  MergeBranchesBodySchema,
  MergeInfoSchema,
  RestoreInfoSchema,
  SnapshotInfoSchema,
  SnapshotListSchema,
  SshBodySchema,
  SshInfoSchema,
  StreamEventSchema,
  StreamInputSchema,
  UsageMetricsSchema,
  VSCodeInfoSchema,
  VncInfoSchema,
} from '@faas/sdk/wire';
import { ExposureListSchema, ExposureRemovedSchema, FilesDeletedSchema, FullOutputSchema, HealthSchema, JobStatusSchema, SnapshotDeletedSchema } from './answers.js';

/** Request bodies and client WebSocket messages, by component name. */
export const REQUEST_SCHEMAS = {
  ExecuteBody: ExecuteBodySchema,
  StreamInput: StreamInputSchema,
  CreateSnapshotBody: CreateSnapshotBodySchema,
  CreateBranchBody: CreateBranchBodySchema,
  MergeBranchesBody: MergeBranchesBodySchema,
  InstanceStartBody: InstanceStartBodySchema,
  SshBody: SshBodySchema,
  ExposeBody: ExposeBodySchema,
  InstanceExecBody: InstanceExecBodySchema,
  FileListBody: FileListBodySchema,
  FileArchiveBody: FileArchiveBodySchema,
  FileDeleteBody: FileDeleteBodySchema,
} satisfies Record<string, z.ZodType>;

/** Answers and server WebSocket messages, by component name. */
export const ANSWER_SCHEMAS = {
  ErrorBody: ErrorBodySchema,
  Health: HealthSchema,
  JobStatus: JobStatusSchema,
  FullOutput: FullOutputSchema,
  ExecutionResult: ExecutionResultSchema,
  ExecutionInfo: ExecutionInfoSchema,
  StreamEvent: StreamEventSchema,
  ExecutionInputAnswer: ExecutionInputAnswerSchema,
  CurrentUsage: CurrentUsageSchema,
  UsageMetrics: UsageMetricsSchema,
  SnapshotInfo: SnapshotInfoSchema,
  SnapshotList: SnapshotListSchema,
  SnapshotDeleted: SnapshotDeletedSchema,
  RestoreInfo: RestoreInfoSchema,
  BranchInfo: BranchInfoSchema,
  MergeInfo: MergeInfoSchema,
  InstanceInfo: InstanceInfoSchema,
  InstanceList: InstanceListSchema,
  SshInfo: SshInfoSchema,
  Exposure: ExposureSchema,
  ExposureList: ExposureListSchema,
  ExposureRemoved: ExposureRemovedSchema,
  InstanceExecResult: InstanceExecResultSchema,
  FileList: FileListSchema,
  FileUploadResult: FileUploadResultSchema,
  FilesDeleted: FilesDeletedSchema,
  JupyterInfo: JupyterInfoSchema,
  VncInfo: VncInfoSchema,
  VSCodeInfo: VSCodeInfoSchema,
} satisfies Record<string, z.ZodType>;

export type RequestName = keyof typeof REQUEST_SCHEMAS;
export type AnswerName = keyof typeof ANSWER_SCHEMAS;

/** A JSON Schema (2020-12) object as this module writes it. */
export type JsonSchema = Record<string, unknown>;

export const ref = (name: RequestName | AnswerName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/**
 * Zod writes `additionalProperties: false` for every object on the output side, but the server
 * may add fields to an answer (clients are to ignore them): only a `.strict()` object (its
 * catch-all is `never`) keeps it.
 */
function openAnswers(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const def = (ctx.zodSchema as { _zod?: { def?: { type?: string; catchall?: { _zod?: { def?: { type?: string } } } } } })._zod?.def;
  if (def?.type === 'object' && def.catchall?._zod?.def?.type !== 'never') delete ctx.jsonSchema.additionalProperties;
}

/** The schemas' JSON Schemas, each referring to the others of the set by `#/components/schemas/<name>`. */
function generate(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
    ...(io === 'output' ? { override: openAnswers } : {}),
  });
  const result: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    // `$schema` is OpenAPI 3.1's default dialect anyway, and a `$id` holding a fragment is not
    // allowed by 2020-12: components are found by their place in the document.
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
    result[id] = rest;
  }
  return result;
}

/** A standalone JSON Schema (parameters): inline, nothing to refer to. */
export function inlineSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** A request and an answer never share a component name (one would hide the other). */
const namesDistinct: [RequestName & AnswerName] extends [never] ? true : false = true;
void namesDistinct;

/** components.schemas: requests and answers. */
export function componentSchemas(): Record<string, JsonSchema> {
  return { ...generate(REQUEST_SCHEMAS, 'input'), ...generate(ANSWER_SCHEMAS, 'output') };
}
