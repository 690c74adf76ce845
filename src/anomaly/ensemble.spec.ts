import { ensembleScore, threeSigmaProbability } from './ensemble';
import { describeFeature, explainFeatures } from './explain';
import { FEATURE_COUNT, FEATURE_INDEX } from './features';

describe('ensemble', () => {
  it('is the weighted mean of the detectors present, and the contributions add up to it', () => {
    const even = ensembleScore([
      { detector: 'STATISTICAL', score: 0.8 },
      { detector: 'ISOLATION_FOREST', score: 0.4 },
    ]);
    expect(even.score).toBeCloseTo(0.6, 12);
    expect(even.contributions.map((c) => c.contribution)).toEqual([0.4, 0.2]);

    // weights 3 and 1: (3·0.8 + 1·0.4)/4 = 0.7
    const weighted = ensembleScore(
      [
        { detector: 'STATISTICAL', score: 0.8 },
        { detector: 'ISOLATION_FOREST', score: 0.4 },
      ],
      { STATISTICAL: 3, ISOLATION_FOREST: 1, SUPERVISED: 1 },
    );
    expect(weighted.score).toBeCloseTo(0.7, 12);
    expect(ensembleScore([]).score).toBe(0);
    expect(() => ensembleScore([{ detector: 'SUPERVISED', score: 1.5 }])).toThrow('[0, 1]');
  });

  it('puts raw scores on one scale: 0.5 exactly three robust sigmas above the median', () => {
    expect(threeSigmaProbability(0.53, { median: 0.5, sigma: 0.01 })).toBeCloseTo(0.5, 10);
    expect(threeSigmaProbability(0.5, { median: 0.5, sigma: 0.01 })).toBeCloseTo(1 / (1 + Math.exp(3)), 12);
  });
});

describe('plain-words explanations', () => {
  it('says how far a value is from the median', () => {
    expect(describeFeature(FEATURE_INDEX.peakEventsIn5Minutes, 412, 10)).toBe('412 events within 5 minutes, 41× the median (10)');
    expect(describeFeature(FEATURE_INDEX.viewsPerSession, 9, 4)).toBe('9 views per session on average, 2.3× the median (4)');
    expect(describeFeature(FEATURE_INDEX.nightShare, 0.85, 0.08)).toBe('85% of events between 00:00 and 06:00 UTC (median user 8%)');
    expect(describeFeature(FEATURE_INDEX.purchasesPerView, 7, 0)).toBe('7.00 purchases per item view (median 0.00)');
    expect(describeFeature(FEATURE_INDEX.distinctItems, 5, 0)).toBe('5 distinct items touched, where the median user has 0');
  });

  it('lists only features beyond 3 sigmas, strongest first', () => {
    const row = new Float64Array(FEATURE_COUNT);
    row[FEATURE_INDEX.nightShare] = 0.9;
    row[FEATURE_INDEX.peakEventsIn5Minutes] = 300;
    const z = new Float64Array(FEATURE_COUNT);
    z[FEATURE_INDEX.nightShare] = 4;
    z[FEATURE_INDEX.peakEventsIn5Minutes] = 9;
    z[FEATURE_INDEX.distinctItems] = 2.5;
    const scales = Array.from({ length: FEATURE_COUNT }, () => ({ median: 0.1, sigma: 1 }));
    scales[FEATURE_INDEX.peakEventsIn5Minutes] = { median: Math.log1p(6), sigma: 1 };
    const findings = explainFeatures(row, 0, z, scales);
    expect(findings.map((f) => f.feature)).toEqual(['peakEventsIn5Minutes', 'nightShare']);
    expect(findings[0].text).toBe('300 events within 5 minutes, 50× the median (6)');
  });
});
