package dev.openbatch.usage;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * What tokens cost, per model, from {@link PricesConfig}: (input tokens x input price + output
 * tokens x output price) / 1,000,000 x (1 - batch discount). A model without a price costs 0.
 */
@ApplicationScoped
public class Prices {
    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);

    /** One model's price: US dollars per million input and output tokens, and the batch discount. */
    public record Price(BigDecimal inputPerMillion, BigDecimal outputPerMillion, BigDecimal batchDiscount) {
        static final Price FREE = new Price(BigDecimal.ZERO, BigDecimal.ZERO, BigDecimal.ZERO);

        /** The cost in US dollars of these tokens. */
        public BigDecimal cost(long inputTokens, long outputTokens) {
            BigDecimal full = inputPerMillion.multiply(BigDecimal.valueOf(inputTokens)).add(outputPerMillion.multiply(BigDecimal.valueOf(outputTokens)));
            return full.multiply(BigDecimal.ONE.subtract(batchDiscount)).divide(MILLION);
        }
    }

    private final Map<String, Price> byModel = new HashMap<>();

    @Inject
    public Prices(PricesConfig config) {
        this(toPrices(config));
    }

    /** A table of its own (tests). */
    public Prices(Map<String, Price> table) {
        table.forEach((model, p) -> {
            if (p.batchDiscount().signum() < 0 || p.batchDiscount().compareTo(BigDecimal.ONE) > 0) {
                throw new IllegalArgumentException("openbatch.prices." + model + ".batch-discount must be between 0 and 1, is " + p.batchDiscount());
            }
            if (p.inputPerMillion().signum() < 0 || p.outputPerMillion().signum() < 0) {
                throw new IllegalArgumentException("openbatch.prices." + model + ": a price must not be negative");
            }
            byModel.put(model, p);
        });
    }

    private static Map<String, Price> toPrices(PricesConfig config) {
        Map<String, Price> out = new HashMap<>();
        config.models().forEach((m, p) -> out.put(m, new Price(p.inputPerMillion(), p.outputPerMillion(), p.batchDiscount())));
        return out;
    }

    /** The model's price; free when the table has none. */
    public Price of(String model) {
        return byModel.getOrDefault(model, Price.FREE);
    }
}
