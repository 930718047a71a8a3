package io.fraudlake.flink;

import org.apache.flink.table.functions.AggregateFunction;

/**
 * {@code EARLIER(value, n) OVER w}: the value of the row {@code n} rows before the current one, or
 * NULL while the window holds fewer. It is LAG for a window with a ROWS frame, which Calcite refuses
 * LAG: the scoring job's velocity then shares the customer's one ROWS window with every other
 * feature, so payments at the same millisecond are taken one by one in arrival order, not as peers.
 * Only the last {@code n} values are kept (a ring), whatever the customer's number of payments.
 */
public class Earlier extends AggregateFunction<Long, Earlier.Ring> {

    /** The last values, oldest at {@code next} once full; and the current row's answer. */
    public static class Ring {
        public long[] values = new long[0];
        public int next;
        public long count;
        public Long latest;
    }

    @Override
    public Ring createAccumulator() {
        return new Ring();
    }

    public void accumulate(Ring ring, Long value, Integer n) {
        if (n == null || n < 1) {
            throw new IllegalArgumentException("EARLIER(value, n) needs n >= 1, got " + n);
        }
        if (ring.values.length != n) {
            ring.values = new long[n];
            ring.next = 0;
            ring.count = 0;
        }
        ring.latest = ring.count >= n ? ring.values[ring.next] : null;
        if (value == null) {
            return;
        }
        ring.values[ring.next] = value;
        ring.next = (ring.next + 1) % n;
        ring.count++;
    }

    @Override
    public Long getValue(Ring ring) {
        return ring.latest;
    }
}
