package dev.openbatch.engine.dispatch;

/**
 * What a dispatcher knows of the others of its process (the upstreams that may share its models'
 * lines). Used on the engine's context only.
 */
public interface Fleet {
    /** Whether an upstream of {@code model} that is not {@code overflow} is live (not drained) here. */
    boolean regularLive(String model);

    /** {@code from} gave lines back to the queue, or was drained or came back: the others look for work again. */
    void changed(Dispatcher from);

    /** A process of one upstream: no one to tell, and its upstream is all there is. */
    Fleet ALONE = new Fleet() {
        @Override
        public boolean regularLive(String model) {
            return false;
        }

        @Override
        public void changed(Dispatcher from) {
        }
    };
}
