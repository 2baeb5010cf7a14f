package dev.openbatch.upstream.local;

import java.util.List;

/** What the built-in upstream needs from a model: many texts embedded in one call, and token counts. */
interface Encoder {
    /** One vector per text, in order; throws if the model fails. */
    List<float[]> embedAll(List<String> texts);

    /** Tokens in {@code text} as the model's tokenizer splits it, without the [CLS]/[SEP] the model adds. */
    int countTokens(String text);
}
