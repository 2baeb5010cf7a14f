package dev.openbatch.usage;

import java.math.BigDecimal;
import java.util.Map;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithParentName;

/**
 * {@code openbatch.prices.<model>.*}: the operator's price table, in US dollars, from which
 * {@code GET /v1/organization/costs} prices the tokens counted. A model without an entry costs 0.
 * A model name with dots or slashes is quoted: {@code openbatch.prices."org/model-1.5".input-per-million=0.2}.
 */
@ConfigMapping(prefix = "openbatch.prices")
public interface PricesConfig {
    @WithParentName
    Map<String, Price> models();

    interface Price {
        /** US dollars per million input (prompt) tokens. */
        @WithDefault("0")
        BigDecimal inputPerMillion();

        /** US dollars per million output (completion) tokens. */
        @WithDefault("0")
        BigDecimal outputPerMillion();

        /** The share taken off for batch work, from 0 (full price) to 1 (free): 0.5 is half price. */
        @WithDefault("0")
        BigDecimal batchDiscount();
    }
}
