import { boundedPaging, MAX_JOBS_PER_PAGE } from './queue-board';

describe('boundedPaging', () => {
  it('caps jobsPerPage, keeps page a whole number from 1, and leaves everything else alone', () => {
    expect(boundedPaging('/admin/queues/api/queues?activeQueue=training&page=2&jobsPerPage=1000000')).toBe(`/admin/queues/api/queues?activeQueue=training&page=2&jobsPerPage=${MAX_JOBS_PER_PAGE}`);
    expect(boundedPaging('/admin/queues/api/queues?page=-3&jobsPerPage=abc')).toBe('/admin/queues/api/queues?page=1&jobsPerPage=1');
    expect(boundedPaging('/admin/queues/api/queues?page=2.7&jobsPerPage=20')).toBe('/admin/queues/api/queues?page=2&jobsPerPage=20');
    expect(boundedPaging('/admin/queues')).toBe('/admin/queues');
  });
});
