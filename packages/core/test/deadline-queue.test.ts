/**
 * The queue behind ExpiryWatch's one timer: entries come out soonest first, whatever the order
 * they went in and whatever was filtered out, checked against a sorted list on seeded random data.
 */
import { seededRandom } from '@live-session/test-support';
import { DeadlineQueue } from '../src/replica/deadline-queue';

describe('DeadlineQueue', () => {
  it('is empty at first', () => {
    const queue = new DeadlineQueue<string>();
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBe(Infinity);
  });

  it.each([1, 2, 3])('gives entries soonest first, with pushes, pops and filters mixed (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const queue = new DeadlineQueue<number>();
    let expected: { at: number; id: number }[] = [];
    for (let id = 0; id < 2000; id++) {
      const draw = random();
      if (draw < 0.6 || queue.size === 0) {
        const at = Math.floor(random() * 500); // duplicates on purpose
        queue.push(at, id);
        expected.push({ at, id });
      } else if (draw < 0.98) {
        expected.sort((a, b) => a.at - b.at);
        const at = queue.peek();
        const item = queue.pop();
        expect(at).toBe(expected[0].at);
        const index = expected.findIndex((entry) => entry.id === item);
        expect(expected[index].at).toBe(at);
        expected.splice(index, 1);
      } else {
        queue.filter((_at, item) => item % 3 !== 0);
        expected = expected.filter((entry) => entry.id % 3 !== 0);
      }
      expect(queue.size).toBe(expected.length);
    }
    const drained: number[] = [];
    while (queue.size > 0) {
      drained.push(queue.peek());
      queue.pop();
    }
    expect(drained).toEqual(expected.map((entry) => entry.at).sort((a, b) => a - b));
  });
});
