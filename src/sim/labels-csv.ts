import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { DemoShop } from './generator';
import { writeRespectingBackpressure } from './ndjson-sink';

/** Ground-truth labels as `user_id,label` CSV, one row per user in index order; ends the stream. */
export async function writeLabelsCsv(shop: DemoShop, stream: Writable): Promise<void> {
  let chunk = 'user_id,label\n';
  for (let user = 0; user < shop.options.users; user++) {
    chunk += `u${user},${shop.groundTruth.label(user)}\n`;
    if (chunk.length >= 1 << 18) {
      await writeRespectingBackpressure(stream, chunk);
      chunk = '';
    }
  }
  await writeRespectingBackpressure(stream, chunk);
  stream.end();
  await once(stream, 'finish');
}
