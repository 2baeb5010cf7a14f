package dev.openbatch.upstream.local;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** {@code openbatch.local.*}: the built-in embeddings model ({@code all-minilm-l6-v2}, in-process, ONNX). */
@ConfigMapping(prefix = "openbatch.local")
public interface LocalConfig {
    /** Whether this process serves {@code all-minilm-l6-v2} itself; the model loads only when a line first needs it. */
    @WithDefault("true")
    boolean enabled();

    /** Most lines the engine may have in flight to the built-in model at once (they wait in its queue). */
    @WithDefault("256")
    int maxConcurrency();

    /** Worker threads that run the model; {@code 0} means one per available processor. */
    @WithDefault("0")
    int threads();

    /** Most texts embedded in one model call; texts of many lines are grouped up to this size. */
    @WithDefault("64")
    int groupSize();
}
