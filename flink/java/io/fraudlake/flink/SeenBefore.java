package io.fraudlake.flink;

import org.apache.flink.table.api.dataview.MapView;
import org.apache.flink.table.functions.AggregateFunction;

/**
 * {@code SEEN_BEFORE(value) OVER w}: whether an earlier row of the window held {@code value}. The
 * scoring job asks it of each payment's device within the customer's window, so the devices seen
 * need no window (and no keyed shuffle) of their own. The values seen are kept as a set in a
 * MapView (one state entry per value: bounded by the customer's devices, not payments).
 */
public class SeenBefore extends AggregateFunction<Boolean, SeenBefore.Seen> {

    /** The values accumulated so far, and whether the latest one was among them already. */
    public static class Seen {
        public MapView<String, Boolean> values = new MapView<>();
        public boolean latestSeenBefore;
    }

    @Override
    public Seen createAccumulator() {
        return new Seen();
    }

    public void accumulate(Seen seen, String value) throws Exception {
        if (value == null) {
            seen.latestSeenBefore = false;
            return;
        }
        seen.latestSeenBefore = seen.values.contains(value);
        if (!seen.latestSeenBefore) {
            seen.values.put(value, Boolean.TRUE);
        }
    }

    @Override
    public Boolean getValue(Seen seen) {
        return seen.latestSeenBefore;
    }
}
