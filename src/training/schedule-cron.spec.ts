import { checkCron } from './training.service';

const HOUR = 3600;

it('accepts patterns whose firings are at least the minimum apart', () => {
  expect(checkCron(' 0 3 * * * ', HOUR)).toBe('0 3 * * *');
  expect(checkCron('0 * * * *', HOUR)).toBe('0 * * * *');
  expect(checkCron('0 0 29 2 *', HOUR)).toBe('0 0 29 2 *');
  expect(checkCron('*/5 * * * *', 300)).toBe('*/5 * * * *');
});

it('refuses patterns that fire closer than the minimum, saying how close and what is allowed', () => {
  expect(() => checkCron('* * * * * *', HOUR)).toThrow('cron "* * * * * *" fires 1 second apart at its closest; training schedules must be at least 1 hour apart');
  expect(() => checkCron('*/5 * * * *', HOUR)).toThrow(/fires 5 minutes apart at its closest/);
  // Close only once a day: 03:00 and 03:01.
  expect(() => checkCron('0,1 3 * * *', HOUR)).toThrow(/fires 1 minute apart/);
  expect(() => checkCron('0 3,4 * * *', 2 * HOUR)).toThrow(/fires 1 hour apart at its closest; training schedules must be at least 2 hours apart/);
});

it('still refuses what is not a cron pattern', () => {
  expect(() => checkCron('every day', HOUR)).toThrow(/is not a valid cron pattern/);
  expect(() => checkCron('61 * * * *', HOUR)).toThrow(/is not a valid cron pattern/);
});
