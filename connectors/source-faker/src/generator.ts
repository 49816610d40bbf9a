import {
  BLOOD_TYPES,
  CITIES,
  COUNTRY_CODES,
  DEGREES,
  EMAIL_DOMAINS,
  EMAIL_WORDS,
  FIRST_NAMES,
  GENDERS,
  LANGUAGES,
  NATIONALITIES,
  OCCUPATIONS,
  PROVINCES,
  STATES,
  STREET_NAMES,
  STREET_SUFFIXES,
  TITLES,
  VEHICLES,
} from './words';

/**
 * Deterministic record generation. Every record is a pure function of (seed, stream, id,
 * updated_at), so any slice can be regenerated on its own, which is what makes resuming from
 * state reproduce exactly the records a full run would have produced. Records are built as
 * JSON text directly: no object, no JSON.stringify.
 */

/** Murmur3's finaliser: a cheap, well-mixing 32-bit hash. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const SALT_USERS = 0x5eed0001;
const SALT_PURCHASES = 0x5eed0002;
const SALT_PRODUCTS = 0x5eed0003;

/** Mulberry32, reseeded per record. */
export class Rng {
  private a = 0;

  reseed(seed: number, salt: number, id: number): this {
    const hi = Math.floor(id / 4294967296);
    this.a = mix32((mix32(seed ^ salt) + Math.imul(id | 0, 0x9e3779b1) + Math.imul(hi, 0x85ebca77)) | 0);
    return this;
  }

  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n), n < 2^29: a 24-bit fraction times n stays exact and unboxed. */
  int(n: number): number {
    return (((this.next() >>> 8) * n) / 16777216) | 0;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

const P2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

/** `YYYY-MM-DD` for days since the epoch (proleptic Gregorian, years 1970–9999). */
function civilDate(days: number): string {
  // Howard Hinnant's days-to-civil algorithm, in 400-year eras.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const mo = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (mo <= 2 ? 1 : 0);
  return `${y}-${P2[mo]}-${P2[d]}T`;
}

// Dates repeat a lot (updated_at runs through consecutive seconds): cache the date part by day
// (an array indexed by day number covers 1970–2079).
const DAY_CACHE_SIZE = 40_000;
const dayCache: Array<string | undefined> = new Array(DAY_CACHE_SIZE).fill(undefined);

/** `YYYY-MM-DDTHH:MM:SS+00:00` for epoch seconds (years 1970–9999), without Date. */
export function isoSeconds(sec: number): string {
  const days = Math.floor(sec / 86400);
  let rem = sec - days * 86400;
  const h = (rem / 3600) | 0;
  rem -= h * 3600;
  const mi = (rem / 60) | 0;
  let date = days >= 0 && days < DAY_CACHE_SIZE ? dayCache[days] : undefined;
  if (date === undefined) {
    date = civilDate(days);
    if (days >= 0 && days < DAY_CACHE_SIZE) dayCache[days] = date;
  }
  return `${date}${P2[h]}:${P2[mi]}:${P2[rem - mi * 60]}+00:00`;
}

/** Parses the timestamps this generator writes (and any ISO 8601 string) to epoch seconds. */
export function parseSeconds(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? Number.NaN : Math.floor(ms / 1000);
}

/** First updated_at generation: records get T0 + position seconds. */
export const T0 = Date.UTC(2023, 0, 1) / 1000;
const CREATED_FROM = Date.UTC(2000, 0, 1) / 1000;
const CREATED_DAYS = (T0 - CREATED_FROM) / 86400;
const PURCHASE_FROM = Date.UTC(2015, 0, 1) / 1000;
const PURCHASE_DAYS = (Date.UTC(2022, 6, 1) / 1000 - PURCHASE_FROM) / 86400;
const PRODUCT_FROM = Date.UTC(2021, 0, 1) / 1000;
const PRODUCT_DAYS = (Date.UTC(2022, 11, 1) / 1000 - PRODUCT_FROM) / 86400;

/** A random instant within `days` days after `from` (Rng.int keeps spans under 2^29). */
function instant(r: Rng, from: number, days: number): number {
  return from + r.int(days) * 86400 + r.int(86400);
}

const rng = new Rng();

// Number-to-string conversions allocate; small numbers come from tables instead.
const NUM: string[] = Array.from({ length: 10000 }, (_, i) => `${i}`);
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => `${i}`.padStart(3, '0'));
const PAD4: string[] = Array.from({ length: 10000 }, (_, i) => `${i}`.padStart(4, '0'));
const PAD5: string[] = Array.from({ length: 100000 }, (_, i) => `${i}`.padStart(5, '0'));

/** One users record as JSON text. */
export function userJson(seed: number, id: number, updatedAt: number): string {
  const r = rng.reseed(seed, SALT_USERS, id);
  const created = instant(r, CREATED_FROM, CREATED_DAYS);
  const height = 150 + r.int(56);
  return (
    `{"id":${id},"created_at":"${isoSeconds(created)}","updated_at":"${isoSeconds(updatedAt)}"` +
    `,"name":"${r.pick(FIRST_NAMES)}","title":"${r.pick(TITLES)}","age":${NUM[18 + r.int(63)]}` +
    `,"email":"${r.pick(EMAIL_WORDS)}${NUM[1950 + r.int(56)]}@${r.pick(EMAIL_DOMAINS)}"` +
    `,"telephone":"+1-(${PAD3[r.int(1000)]})-${PAD3[r.int(1000)]}-${PAD4[r.int(10000)]}"` +
    `,"gender":"${r.pick(GENDERS)}","language":"${r.pick(LANGUAGES)}","academic_degree":"${r.pick(DEGREES)}"` +
    `,"nationality":"${r.pick(NATIONALITIES)}","occupation":"${r.pick(OCCUPATIONS)}"` +
    `,"height":"${NUM[(height / 100) | 0]}.${P2[height % 100]}","blood_type":"${r.pick(BLOOD_TYPES)}","weight":${NUM[45 + r.int(76)]}` +
    `,"address":{"street_number":"${NUM[1 + r.int(9999)]}","street_name":"${r.pick(STREET_NAMES)} ${r.pick(STREET_SUFFIXES)}"` +
    `,"city":"${r.pick(CITIES)}","state":"${r.pick(STATES)}","province":"${r.pick(PROVINCES)}"` +
    `,"postal_code":"${PAD5[r.int(100000)]}","country_code":"${r.pick(COUNTRY_CODES)}"}}`
  );
}

export const PRODUCT_COUNT = 100;

/** One products record as JSON text. */
export function productJson(seed: number, id: number, updatedAt: number): string {
  const r = rng.reseed(seed, SALT_PRODUCTS, id);
  const [make, model] = VEHICLES[(id - 1) % VEHICLES.length]!;
  const created = instant(r, PRODUCT_FROM, PRODUCT_DAYS);
  return (
    `{"id":${id},"make":"${make}","model":"${model}","year":${NUM[1990 + r.int(34)]},"price":${1000 + r.int(99000)}` +
    `,"created_at":"${isoSeconds(created)}","updated_at":"${isoSeconds(updatedAt)}"}`
  );
}

/** How many purchases a user makes (0–3), independent of everything else about them. */
export function purchaseCount(seed: number, userId: number): number {
  return rng.reseed(seed, SALT_PURCHASES, userId).int(4);
}

/**
 * The purchases of one user as JSON texts; ids start at `firstId`. Purchases are generated
 * per user, so a slice boundary always falls between users.
 */
export function purchasesJson(seed: number, userId: number, firstId: number, updatedAt: number): string[] {
  const r = rng.reseed(seed, SALT_PURCHASES, userId);
  const n = r.int(4);
  const out: string[] = [];
  const updated = isoSeconds(updatedAt);
  for (let k = 0; k < n; k++) {
    const created = instant(r, PURCHASE_FROM, PURCHASE_DAYS);
    const added = created + r.int(30 * 86400);
    const bought = r.int(10) < 8 ? added + 3600 + r.int(7 * 86400) : -1;
    const returned = bought >= 0 && r.int(10) === 0 ? bought + 86400 + r.int(30 * 86400) : -1;
    out.push(
      `{"id":${firstId + k},"product_id":${1 + r.int(PRODUCT_COUNT)},"user_id":${userId}` +
        `,"created_at":"${isoSeconds(created)}","updated_at":"${updated}"` +
        `,"added_to_cart_at":"${isoSeconds(added)}"` +
        `,"purchased_at":${bought >= 0 ? `"${isoSeconds(bought)}"` : 'null'}` +
        `,"returned_at":${returned >= 0 ? `"${isoSeconds(returned)}"` : 'null'}}`,
    );
  }
  return out;
}
