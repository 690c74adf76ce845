/**
 * Conversion drivers as the API shows them: driver-factors.ts tallies, drivers-report.ts tests, this
 * file names each factor, encodes it for droppedOff's `factor` argument and shapes the answer.
 */
import { groupValueOf, MISSING_GROUP_KEY } from './breakdown-key';
import { COHORT_MEMBER, DriverFactor, factorId, factorOfId, HOUR_BAND_HOURS } from './driver-factors';
import type { CohortSpec } from './funnel-definition';
import type { DriverReport, DriverStatistics } from './drivers-report';
import { DriverFactorKind, FunnelDriver, FunnelDrivers, ModelDrivers } from './funnel-drivers.types';

const KINDS: readonly string[] = Object.values(DriverFactorKind);

/** Longest factor code decodeFactor reads: a cohort's code carries its definition (at most 1,000 ids of at most 200 characters). */
const MAX_FACTOR_CODE_LENGTH = 500_000;

/**
 * The factor as droppedOff's `factor` argument: base64url of its id, the JSON array [kind, key,
 * value, range]; a `cohort` factor appends its definition ({ userIds, userProperties }), since
 * droppedOff gets only the funnel's input and must resolve the cohort again.
 */
export function encodeFactor(factor: DriverFactor): string {
  const id = factor.kind === 'cohort' ? JSON.stringify([factor.kind, factor.key, factor.value, factor.range, factor.cohort ?? null]) : factorId(factor);
  return Buffer.from(id, 'utf8').toString('base64url');
}

/**
 * The factor behind an encoded one, or null when the text is not one (any client text is safe
 * here). A `cohort` factor comes back with its definition as sent, unchecked: the caller plans it
 * (planCohort) before reading users.
 */
export function decodeFactor(code: string): DriverFactor | null {
  if (typeof code !== 'string' || code.length === 0 || code.length > MAX_FACTOR_CODE_LENGTH) return null;
  try {
    const text = Buffer.from(code, 'base64url').toString('utf8');
    const factor = factorOfId(text);
    const { kind, key, value, range } = factor;
    if (!KINDS.includes(kind) || typeof key !== 'string' || key.length === 0) return null;
    if (kind === 'cohort') {
      const cohort = (JSON.parse(text) as unknown[])[4];
      if (value !== COHORT_MEMBER || range !== null || typeof cohort !== 'object' || cohort === null || Array.isArray(cohort)) return null;
      const { userIds, userProperties } = cohort as Record<string, unknown>;
      if (!(userIds === undefined || userIds === null || (Array.isArray(userIds) && userIds.every((id) => typeof id === 'string')))) return null;
      if (!(userProperties === undefined || userProperties === null || (Array.isArray(userProperties) && userProperties.every((filter) => typeof filter === 'object' && filter !== null)))) return null;
      return { kind, key, value, range, cohort: { userIds: (userIds as string[] | null | undefined) ?? null, userProperties: (userProperties as CohortSpec['userProperties']) ?? null } };
    }
    if (code.length > 2000) return null;
    if (range === null ? typeof value !== 'string' : !(Array.isArray(range) && range.length === 2 && Number.isFinite(range[0]) && (range[1] === null || Number.isFinite(range[1])) && value === null)) return null;
    if (kind === 'stepProperty' || kind === 'userProperty') {
      if (value !== null && value !== MISSING_GROUP_KEY) JSON.parse(value);
    } else if (range !== null) return null;
    return factor;
  } catch {
    return null;
  }
}

/** For display: "device = mobile", "price in [12, 40)", "did fav between the steps", "step event at 18:00–24:00 UTC". */
export function factorLabel(factor: DriverFactor): string {
  switch (factor.kind) {
    case 'stepProperty':
    case 'userProperty': {
      const subject = factor.kind === 'userProperty' ? `user ${factor.key}` : factor.key;
      if (factor.range) return factor.range[1] === null ? `${subject} ≥ ${factor.range[0]}` : `${subject} in [${factor.range[0]}, ${factor.range[1]})`;
      if (factor.value === MISSING_GROUP_KEY) return `${subject} not set`;
      return `${subject} = ${groupValueOf(factor.value!).label}`;
    }
    case 'hourOfDay': {
      const start = Number(factor.value);
      const pad = (hour: number): string => String(hour).padStart(2, '0');
      return `step event at ${pad(start)}:00–${pad(start + HOUR_BAND_HOURS)}:00 UTC`;
    }
    case 'eventType':
      return `did ${factor.key} between the steps`;
    case 'cohort':
      return `in cohort ${factor.key}`;
  }
}

function driverOf(entry: DriverStatistics, step: number, cohorts: ReadonlyMap<string, CohortSpec>): FunnelDriver {
  const factor: DriverFactor = entry.factor.kind === 'cohort' ? { ...entry.factor, cohort: cohorts.get(entry.factor.key) } : entry.factor;
  const propertyValue = (factor.kind === 'stepProperty' || factor.kind === 'userProperty') && factor.range === null && factor.value !== MISSING_GROUP_KEY;
  const code = encodeFactor(factor);
  return {
    factor: code,
    kind: factor.kind as DriverFactorKind,
    key: factor.key,
    value: propertyValue ? groupValueOf(factor.value!).value : factor.kind === 'hourOfDay' ? Number(factor.value) : factor.kind === 'cohort' ? COHORT_MEMBER : null,
    missing: factor.value === MISSING_GROUP_KEY,
    rangeLow: factor.range?.[0] ?? null,
    rangeHigh: factor.range?.[1] ?? null,
    label: factorLabel(factor),
    convertersWith: entry.convertersWith,
    dropOffsWith: entry.dropOffsWith,
    convertersWithout: entry.convertersWithout,
    dropOffsWithout: entry.dropOffsWithout,
    conversionWith: entry.convertersWith / (entry.convertersWith + entry.dropOffsWith),
    conversionWithout: entry.convertersWithout / (entry.convertersWithout + entry.dropOffsWithout),
    oddsRatio: entry.oddsRatio,
    oddsRatioLow: entry.oddsRatioLow,
    oddsRatioHigh: entry.oddsRatioHigh,
    pValue: entry.pValue,
    qValue: entry.qValue,
    significant: entry.significant,
    droppedOff: { afterStep: step, factor: code, count: entry.dropOffsWith },
  };
}

/**
 * The funnelDrivers answer: the statistical drivers of `report` and the model drivers beside them.
 * `cohorts` (by name) are the definitions of the cohorts tested, which their factor codes carry.
 */
export function driversAnswer(report: DriverReport, step: number, modelDrivers: ModelDrivers, cohorts: ReadonlyMap<string, CohortSpec> = new Map()): FunnelDrivers {
  return {
    step,
    reached: report.reached,
    converted: report.converted,
    tested: report.tested,
    belowSupport: report.belowSupport,
    positive: report.positive.map((entry) => driverOf(entry, step, cohorts)),
    negative: report.negative.map((entry) => driverOf(entry, step, cohorts)),
    factors: report.all.map((entry) => driverOf(entry, step, cohorts)),
    modelDrivers,
  };
}
