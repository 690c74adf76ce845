import type { DataSource } from 'typeorm';
import { loadConfig } from '../config';
import { ClickHouseTrainingEvents, jsonbText, trainingEventReaderOf } from './clickhouse-training-events';

describe('jsonbText (PostgreSQL props->>key from the stored text)', () => {
  // Objects as PostgreSQL's jsonb prints them: keys shorter first, ", " and ": " between.
  const props = '{"a": null, "ip": "10.0.0.1", "tag": [1, "x]", {"b": 2.0}], "price": 19.990, "device": {"v": [1, 2.0], "os": "i}o\\"s"}, "category": 1.50, "flag": true}';

  it.each([
    ['category', '1.50'],
    ['price', '19.990'],
    ['device', '{"v": [1, 2.0], "os": "i}o\\"s"}'],
    ['tag', '[1, "x]", {"b": 2.0}]'],
    ['ip', '10.0.0.1'],
    ['flag', 'true'],
    ['a', null],
    ['missing', null],
    ['v', null],
  ])('%s → %p', (key, expected) => {
    expect(jsonbText(props, key)).toBe(expected);
  });

  it('unescapes a string value and reads an empty or non-object text as no value', () => {
    expect(jsonbText('{"k": "a\\\\b\\"c\\u00e9"}', 'k')).toBe('a\\b"cé');
    expect(jsonbText('', 'k')).toBeNull();
    expect(jsonbText('{}', 'k')).toBeNull();
    expect(jsonbText('[1]', 'k')).toBeNull();
  });
});

describe('trainingEventReaderOf', () => {
  const dataSource = {} as DataSource;

  it('reads PostgreSQL unless FUNNELCAST_ANALYTICS=clickhouse', () => {
    expect(trainingEventReaderOf(dataSource, loadConfig({})).engine).toBe('postgres');
    expect(trainingEventReaderOf(dataSource, loadConfig({ FUNNELCAST_ANALYTICS: 'inprocess' })).engine).toBe('postgres');
  });

  it('reads ClickHouse under FUNNELCAST_ANALYTICS=clickhouse, embedded in the training folder by default', () => {
    const reader = trainingEventReaderOf(dataSource, loadConfig({ FUNNELCAST_ANALYTICS: 'clickhouse', FUNNELCAST_CLICKHOUSE_PATH: '/data/ch/' }));
    expect(reader).toBeInstanceOf(ClickHouseTrainingEvents);
    expect(loadConfig({ FUNNELCAST_CLICKHOUSE_PATH: '/data/ch/' }).clickhouseTrainingPath).toBe('/data/ch-training');
    expect(loadConfig({ FUNNELCAST_CLICKHOUSE_TRAINING_PATH: '/fast/train' }).clickhouseTrainingPath).toBe('/fast/train');
  });
});
