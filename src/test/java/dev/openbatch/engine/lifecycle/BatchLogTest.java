package dev.openbatch.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BatchLogTest {
    @Test
    void aModelNameFromTheInputFileCannotForgeALogLine() {
        String line = BatchLog.line("batch-1", "p", "completed", 1, 1, 0,
                "gpt\n2026-01-01 00:00:00,000 ERROR [openbatch.batches] batch batch-2 project=other -> failed\r\u2028");
        assertFalse(line.contains("\n") || line.contains("\r") || line.contains("\u2028"), line);
        assertTrue(line.contains("model=gpt\\n2026-01-01"), line);
    }
}
