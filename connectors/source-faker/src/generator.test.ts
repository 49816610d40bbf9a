import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import {
  isoSeconds,
  PRODUCT_COUNT,
  productJson,
  purchaseCount,
  purchasesJson,
  T0,
  userJson,
} from './generator';
import { productsSchema, purchasesSchema, usersSchema } from './spec';
import * as words from './words';

const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ?? addFormatsPlugin) as (
  a: Ajv,
) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
// Every declared property must be present: the faker emits them all.
const requireAll = (schema: Record<string, unknown>) => ({
  ...schema,
  required: Object.keys(schema.properties as object).filter((k) => k !== 'description'),
});
const validUser = ajv.compile({
  ...requireAll(usersSchema),
  properties: {
    ...(usersSchema.properties as object),
    address: requireAll((usersSchema.properties as Record<string, Record<string, unknown>>).address!),
  },
  additionalProperties: false,
});
const validProduct = ajv.compile({ ...requireAll(productsSchema), additionalProperties: false });
const validPurchase = ajv.compile({ ...requireAll(purchasesSchema), additionalProperties: false });

describe('isoSeconds', () => {
  it('agrees with Date for instants from 1970 to 2100', () => {
    let x = 1;
    for (let i = 0; i < 20000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const sec = Math.floor((x / 2 ** 32) * 4102444800);
      expect(isoSeconds(sec)).toBe(new Date(sec * 1000).toISOString().replace('.000Z', '+00:00'));
    }
    expect(isoSeconds(0)).toBe('1970-01-01T00:00:00+00:00');
    expect(isoSeconds(951782400)).toBe('2000-02-29T00:00:00+00:00');
  });
});

describe('word lists', () => {
  it('are ASCII JSON string contents', () => {
    for (const [name, list] of Object.entries(words)) {
      const flat = (list as ReadonlyArray<string | readonly string[]>).flat();
      for (const w of flat) {
        expect(/^[\x20-\x7e]*$/.test(w), `${name}: ${w}`).toBe(true);
        expect(() => JSON.parse(`"${w}"`), `${name}: ${w}`).not.toThrow();
      }
    }
    expect(JSON.parse(`"${words.BLOOD_TYPES[1]}"`)).toBe('A\u2212');
  });
});

describe('records', () => {
  it('users match the users schema, field for field', () => {
    for (let id = 1; id <= 3000; id++) {
      const user = JSON.parse(userJson(42, id, T0 + id));
      expect(validUser(user), JSON.stringify(validUser.errors)).toBe(true);
      expect(user.id).toBe(id);
      expect(user.updated_at).toBe(isoSeconds(T0 + id));
      expect(user.created_at < user.updated_at).toBe(true);
    }
  });

  it('products and purchases match their schemas', () => {
    for (let id = 1; id <= PRODUCT_COUNT; id++) {
      const product = JSON.parse(productJson(42, id, T0 + id));
      expect(validProduct(product), JSON.stringify(validProduct.errors)).toBe(true);
    }
    let nextId = 1;
    for (let user = 1; user <= 2000; user++) {
      const list = purchasesJson(42, user, nextId, T0 + user).map((j) => JSON.parse(j));
      expect(list).toHaveLength(purchaseCount(42, user));
      for (const p of list) {
        expect(validPurchase(p), JSON.stringify(validPurchase.errors)).toBe(true);
        expect(p).toMatchObject({ id: nextId++, user_id: user });
        expect(p.product_id).toBeGreaterThanOrEqual(1);
        expect(p.product_id).toBeLessThanOrEqual(PRODUCT_COUNT);
        if (p.purchased_at) expect(p.purchased_at > p.added_to_cart_at).toBe(true);
        if (p.returned_at) expect(p.returned_at > p.purchased_at).toBe(true);
      }
    }
    expect(nextId).toBeGreaterThan(2000); // about 1.5 purchases per user
  });

  it('are deterministic per seed and vary across seeds and ids', () => {
    expect(userJson(7, 10, T0)).toBe(userJson(7, 10, T0));
    expect(userJson(7, 10, T0)).not.toBe(userJson(8, 10, T0));
    const names = new Set(Array.from({ length: 500 }, (_, i) => JSON.parse(userJson(7, i + 1, T0)).name));
    expect(names.size).toBeGreaterThan(50);
    expect(userJson(7, 2 ** 40, T0)).not.toBe(userJson(7, 2 ** 40 + 2 ** 32, T0));
  });
});
