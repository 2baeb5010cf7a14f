package dev.openbatch.validation;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A {@link LineScanner.Sink} for tests: records what the scanner handed out, in order. */
final class ScannedLines implements LineScanner.Sink {
    /** A line ({@code tooLong} -1, its bytes as ISO-8859-1 text, one char per byte) or a line too long (its length). */
    record Event(int number, String bytes, long tooLong) {
        static Event line(int number, byte[] bytes) {
            return new Event(number, new String(bytes, StandardCharsets.ISO_8859_1), -1);
        }

        static Event tooLong(int number, long bytes) {
            return new Event(number, null, bytes);
        }
    }

    final List<Event> events = new ArrayList<>();
    /** The sink says stop after this many events. */
    int stopAfter = Integer.MAX_VALUE;

    @Override
    public boolean line(byte[] buf, int from, int to, int number) {
        events.add(new Event(number, new String(buf, from, to - from, StandardCharsets.ISO_8859_1), -1));
        return events.size() < stopAfter;
    }

    @Override
    public boolean tooLong(int number, long bytes) {
        events.add(Event.tooLong(number, bytes));
        return events.size() < stopAfter;
    }
}
