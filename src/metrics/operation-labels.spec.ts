import type { Principal } from '../auth/api-key.service';
import { mayAddOperationLabel } from '../http/request-log';
import { OperationLabels } from './operation-labels';

describe('OperationLabels', () => {
  it('keeps the first names up to the cap and calls later ones other', () => {
    const labels = new OperationLabels(2);
    expect(labels.labelOf({ name: 'Funnel' })).toBe('Funnel');
    expect(labels.labelOf({ name: 'Ingest' })).toBe('Ingest');
    expect(labels.labelOf({ name: 'Third' })).toBe('other');
    // Names already kept stay themselves after the cap is reached.
    expect(labels.labelOf({ name: 'Funnel' })).toBe('Funnel');
  });

  it('labels unnamed, unresolved and malformed operations with fixed labels that take no slot', () => {
    const labels = new OperationLabels(1);
    expect(labels.labelOf({ name: null })).toBe('anonymous');
    expect(labels.labelOf(null)).toBe('unknown');
    expect(labels.labelOf({ name: 'a'.repeat(65) })).toBe('unknown');
    expect(labels.labelOf({ name: 'not a name' })).toBe('unknown');
    expect(labels.labelOf({ name: 'First' })).toBe('First');
  });

  it('lets requests without a key use kept names but never take a slot', () => {
    const labels = new OperationLabels(2);
    expect(labels.labelOf({ name: 'Known' })).toBe('Known');
    // Unauthenticated callers inventing names: counted as other, and the free slot stays free.
    for (let n = 0; n < 5; n++) expect(labels.labelOf({ name: `Invented${n}` }, false)).toBe('other');
    expect(labels.labelOf({ name: 'Known' }, false)).toBe('Known');
    expect(labels.labelOf({ name: null }, false)).toBe('anonymous');
    expect(labels.labelOf({ name: 'Dashboard' })).toBe('Dashboard');
    expect(labels.labelOf({ name: 'Invented0' }, false)).toBe('other');
  });
});

describe('mayAddOperationLabel', () => {
  it('lets trusted keys add names, never public client keys or requests without a key', () => {
    const key = (role: Principal['role']): Principal => ({ keyId: 'k', name: 'n', role });
    expect(['admin', 'analyst', 'server'].map((role) => mayAddOperationLabel(key(role as Principal['role'])))).toEqual([true, true, true]);
    expect(mayAddOperationLabel(key('client'))).toBe(false);
    expect(mayAddOperationLabel(null)).toBe(false);
  });
});
