// v7 templates (README "Classic web UI, templates and adaptive resources"): a parameterised job whose command is rendered from a
// JSON payload checked against the template's JSON Schema. REST v7 and GraphQL call this; the
// run itself is made by the run service like any other.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import type { RunRow, TemplateRow } from '../db/schema.js';
import { NotFoundError, TemplatePayloadError, ValidationError, type FieldIssue } from '../errors.js';
import type { ListSpec } from '../store/listQuery.js';
import * as store from '../store/templates.js';
import { envField, intField } from './definitionService.js';
import { LIMITS } from './resources.js';
import type { Executable, RunService } from './runService.js';
import { parseTemplate, renderTemplate, TemplateError, type ParsedTemplate } from './templates/goTemplate.js';
import { parseOrThrow, snakeCase, unstorableText } from './validation.js';

export type Template = TemplateRow;

/** The group every template run gets (the classic service's constant). */
export const TEMPLATE_GROUP_NAME = 'template_group_name';

const NAME = /^[a-zA-Z0-9_-]{1,255}$/;

const jsonObject = (name: string) => z.record(z.string(), z.unknown(), { error: `${name} must be a JSON object` });

const createSchema = z.object({
  templateName: z
    .string({ error: (i) => (i.input == null ? 'string [template_name] must be specified' : 'template_name must be a string') })
    .regex(NAME, { error: 'template_name must be 1-255 letters, digits, "-" or "_"' }),
  schema: jsonObject('schema').refine((s) => Object.keys(s).length > 0, { error: 'schema must be a non-empty JSON Schema object' }),
  commandTemplate: z
    .string({ error: (i) => (i.input == null ? 'string [command_template] must be specified' : 'command_template must be a string') })
    .min(1, { error: 'string [command_template] must be specified' })
    .max(65_536, { error: 'command_template must be at most 65536 characters' }),
  defaults: jsonObject('defaults').default({}),
  avatarUri: z.string({ error: 'avatar_uri must be a string' }).max(2048).nullable().optional(),
  image: z
    .string({ error: (i) => (i.input == null ? 'string [image] must be specified' : 'image must be a string') })
    .trim()
    .min(1, { error: 'string [image] must be specified' })
    .max(1024),
  memory: intField('memory', LIMITS.memory.max).default(512),
  cpu: intField('cpu', LIMITS.cpu.max).default(256),
  gpu: intField('gpu', LIMITS.gpu.max).nullable().optional(),
  env: envField.default([]),
  adaptiveResourceAllocation: z.boolean({ error: 'adaptive_resource_allocation must be true or false' }).default(true),
  ports: z.array(z.number().int().min(1).max(65535), { error: 'ports must be an array of integers 1-65535' }).default([]),
  tags: z.array(z.string(), { error: 'tags must be an array of strings' }).default([]),
});

export type CreateTemplateInput = z.input<typeof createSchema>;

/** The fields a new version is compared on ("some field differs → version + 1"). */
const COMPARED = [
  'schema',
  'commandTemplate',
  'defaults',
  'avatarUri',
  'image',
  'memory',
  'cpu',
  'gpu',
  'env',
  'adaptiveResourceAllocation',
  'ports',
  'tags',
] as const;

/** Merges `payload` over `defaults`: the payload wins; defaults fill keys missing at any depth. */
export function mergePayload(defaults: unknown, payload: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (payload === undefined) return defaults;
  if (!isObj(defaults) || !isObj(payload)) return payload;
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(payload)) out[k] = k in defaults ? mergePayload(defaults[k], v) : v;
  return out;
}

/** Ajv's error → "template_payload.a.b: must be number" (the instance path as dotted keys). */
function payloadIssue(e: ErrorObject): FieldIssue {
  const keys = e.instancePath
    .split('/')
    .slice(1)
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') keys.push(String((e.params as { missingProperty: string }).missingProperty));
  const path = ['template_payload', ...keys.map((k) => (/^\d+$/.test(k) ? Number(k) : k))];
  const where = path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
  const message =
    e.keyword === 'required'
      ? 'is required'
      : e.keyword === 'additionalProperties'
        ? `must not have the property ${(e.params as { additionalProperty: string }).additionalProperty}`
        : e.keyword === 'enum'
          ? `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
          : (e.message ?? 'is invalid');
  return { path, message: `${where}: ${message}` };
}

/**
 * JSON documents (schema, defaults, payload) are stored as jsonb, which Postgres parses
 * recursively: a document nested thousands deep would fail there (a 500), and the merge and
 * renderer recurse too. Real payloads are a few levels deep.
 */
export const MAX_JSON_DEPTH = 64;

/** Why `value` cannot be stored in jsonb/text, with its path; undefined when it can. Iterative. */
function unstorableIn(value: unknown, root: string): FieldIssue | undefined {
  const stack: [unknown, string, number][] = [[value, root, 0]];
  while (stack.length) {
    const [v, where, depth] = stack.pop()!;
    if (depth > MAX_JSON_DEPTH) return { path: [root], message: `${root} must be at most ${MAX_JSON_DEPTH} levels deep` };
    if (typeof v === 'string') {
      const r = unstorableText(v);
      if (r) return { path: [root], message: `${where} must not contain ${r}` };
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const r = unstorableText(k);
        if (r) return { path: [root], message: `${where} keys must not contain ${r}` };
        stack.push([x, `${where}.${k}`, depth + 1]);
      }
    }
  }
  return undefined;
}

export interface TemplateExecuteOptions {
  payload: unknown;
  dryRun: boolean;
}

export function createTemplateService(deps: { db: Db; runs: RunService }) {
  const { db } = deps;
  // strict: false — schemas written for the classic service carry UI keywords ajv does not know.
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validators = new Map<string, ValidateFunction>();
  const parsed = new Map<string, ParsedTemplate>();

  function validatorOf(t: Pick<Template, 'templateId' | 'schema'>): ValidateFunction {
    let v = validators.get(t.templateId);
    if (!v) {
      v = ajv.compile(t.schema);
      validators.set(t.templateId, v);
    }
    return v;
  }

  function parsedOf(t: Pick<Template, 'templateId' | 'commandTemplate'>): ParsedTemplate {
    let p = parsed.get(t.templateId);
    if (!p) {
      p = parseTemplate(t.commandTemplate);
      parsed.set(t.templateId, p);
    }
    return p;
  }

  const service = {
    /** Create or version: a new name → 1; a changed field → latest + 1; identical → the latest, not created. */
    async create(input: unknown): Promise<{ template: Template; created: boolean }> {
      const v = parseOrThrow(createSchema, input, snakeCase);
      for (const [key, value] of Object.entries(v)) {
        const issue = unstorableIn(value, snakeCase(key));
        if (issue) throw new ValidationError([issue]);
      }
      try {
        new Ajv({ allErrors: true, strict: false }).compile(v.schema);
      } catch (err) {
        throw new ValidationError([{ path: ['schema'], message: `schema is not a valid JSON Schema: ${(err as Error).message}` }]);
      }
      try {
        parseTemplate(v.commandTemplate);
      } catch (err) {
        if (err instanceof TemplateError) throw new ValidationError([{ path: ['command_template'], message: `command_template ${err.message}` }]);
        throw err;
      }
      const row = {
        templateId: `tpl-${randomUUID()}`,
        templateName: v.templateName,
        schema: v.schema,
        commandTemplate: v.commandTemplate,
        defaults: v.defaults,
        avatarUri: v.avatarUri ?? null,
        image: v.image,
        memory: v.memory,
        cpu: v.cpu,
        gpu: v.gpu ?? null,
        env: v.env,
        adaptiveResourceAllocation: v.adaptiveResourceAllocation,
        ports: v.ports,
        tags: v.tags,
      };
      return store.insertTemplateVersion(db, row, (latest) => COMPARED.every((k) => isDeepStrictEqual(latest[k], row[k])));
    },

    async get(id: string): Promise<Template> {
      const t = id.includes('\0') ? undefined : await store.getTemplate(db, id);
      if (!t) throw new NotFoundError(`Template with ID ${id} not found`);
      return t;
    },

    /** `version` an integer string picks that version; anything else (`latest`) the newest. */
    async getByName(name: string, version: string): Promise<Template> {
      const n = /^\d{1,9}$/.test(version) ? Number(version) : undefined;
      const t = name.includes('\0') ? undefined : await store.getTemplateByName(db, name, n);
      if (!t) throw new NotFoundError(`Template with name ${name} and version ${version} not found`);
      return t;
    },

    list(spec: store.TemplateListSpec) {
      return store.listTemplates(db, spec);
    },

    /** Merged payload, validated, and the rendered command, without running anything. */
    render(t: Template, payload: unknown): { merged: unknown; command: string } {
      if (payload !== undefined && (payload === null || typeof payload !== 'object' || Array.isArray(payload))) {
        throw new TemplatePayloadError([{ path: ['template_payload'], message: 'template_payload must be a JSON object' }]);
      }
      const merged = mergePayload(t.defaults, payload ?? {});
      const validate = validatorOf(t);
      if (!validate(merged)) {
        throw new TemplatePayloadError((validate.errors ?? []).map(payloadIssue));
      }
      try {
        return { merged, command: renderTemplate(parsedOf(t), merged) };
      } catch (err) {
        if (err instanceof TemplateError) {
          throw new TemplatePayloadError([{ path: ['template_payload'], message: `rendering command_template failed at ${err.message}` }]);
        }
        throw err;
      }
    },

    /**
     * Runs the template: `input` is the v6 execute input (camelCase, owner required); the
     * command is rendered unless the input gives one. With dryRun nothing is stored.
     */
    async execute(t: Template, input: unknown, opts: TemplateExecuteOptions): Promise<{ run: RunRow; created: boolean }> {
      const v = deps.runs.parseExecute(input);
      const payloadIssueFound = unstorableIn(opts.payload, 'template_payload');
      if (payloadIssueFound) throw new TemplatePayloadError([payloadIssueFound]);
      const { command } = service.render(t, opts.payload);
      const exe: Executable = {
        type: 'template',
        id: t.templateId,
        version: t.version,
        alias: t.templateId,
        groupName: TEMPLATE_GROUP_NAME,
        image: t.image,
        command,
        env: t.env,
        cpu: t.cpu,
        memory: t.memory,
        gpu: t.gpu,
        ephemeralStorage: null,
        targetCluster: null,
        adaptiveResourceAllocation: t.adaptiveResourceAllocation,
      };
      return deps.runs.launch(exe, v, { dryRun: opts.dryRun, executionRequestCustom: { template_payload: opts.payload ?? {} } });
    },

    /** Runs of these templates (one, or every version of a name), as a run list. */
    async history(templateIds: string[], spec: ListSpec): Promise<{ total: number; rows: RunRow[] }> {
      // An empty IN list would filter nothing.
      if (templateIds.length === 0) return { total: 0, rows: [] };
      return deps.runs.list({
        ...spec,
        filters: [...spec.filters, { field: 'definition_id', op: 'in', values: templateIds }, { field: 'executable_type', op: 'eq', values: ['template'] }],
      });
    },

    idsByName(name: string): Promise<string[]> {
      return store.templateIdsByName(db, name);
    },
  };
  return service;
}

export type TemplateService = ReturnType<typeof createTemplateService>;
