// The @google/genai SDK declaring a tool in its own schema form (Type.OBJECT,
// upper-case types, nullable, int64 counts as strings, propertyOrdering,
// anyOf) against OpenAI, Azure and Anthropic targets: the relay converts it
// to JSON Schema (the mock refuses a "type" JSON Schema does not know, as
// OpenAI does), and the SDK gets the mock's call to that tool back. Against
// the Gemini target the schema passes as it was.
import assert from 'node:assert/strict';
import { GoogleGenAI, Type } from '@google/genai';
import { BASE, MODELS, TOOL_ARGS, mark, eager, upstreamRequest } from './helpers.mjs';

const ai = new GoogleGenAI({
  apiKey: 'gemini-client-anything',
  httpOptions: { baseUrl: BASE, timeout: 20000, retryOptions: { attempts: 1 } },
});

const parameters = {
  type: Type.OBJECT,
  properties: {
    city: { type: Type.STRING, description: 'City name' },
    unit: { type: Type.STRING, enum: ['C', 'F'], format: 'enum', nullable: true },
    days: { type: Type.INTEGER, format: 'int64', minimum: 1 },
    tags: { type: Type.ARRAY, items: { type: Type.STRING }, minItems: '1', maxItems: '3' },
    at: { anyOf: [{ type: Type.STRING }, { type: Type.NUMBER }] },
  },
  required: ['city'],
  propertyOrdering: ['city', 'unit', 'days', 'tags', 'at'],
};
const tools = [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather', parameters }] }];

// The JSON Schema a JSON-Schema provider must get.
const WANT = {
  type: 'object',
  properties: {
    city: { type: 'string', description: 'City name' },
    unit: { type: ['string', 'null'], enum: ['C', 'F'], format: 'enum' },
    days: { type: 'integer', format: 'int64', minimum: 1 },
    tags: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 3 },
    at: { anyOf: [{ type: 'string' }, { type: 'number' }] },
  },
  required: ['city'],
};

for (const m of MODELS) {
  eager(`gemini sdk Type.OBJECT tool -> ${m.name}`, async () => {
    const said = `${mark('ge-schema')} [[mock tool=1]]`;
    const r = await ai.models.generateContent({
      model: m.name,
      contents: [{ role: 'user', parts: [{ text: said }] }],
      config: { tools },
    });
    const call = r.candidates?.[0]?.content?.parts?.find((p) => p.functionCall)?.functionCall;
    assert.ok(call, `no function call in ${JSON.stringify(r.candidates)}`);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.args, TOOL_ARGS);
    const q = await upstreamRequest(said.split(' ')[0], false);
    const b = q.json;
    if (m.kind === 'gemini') {
      const p = b.tools[0].functionDeclarations[0].parameters;
      assert.equal(p.type, 'OBJECT', 'same dialect: as sent');
      return;
    }
    const got = m.kind === 'anthropic' ? b.tools[0].input_schema : b.tools[0].function.parameters;
    assert.deepEqual(got, WANT, `${m.name}: converted schema`);
  });
}
