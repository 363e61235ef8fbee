/// Rotary position embedding. Each pair of dimensions (i, j) of a head is rotated by the angle
/// position · base^(-2k/dims) for pair index k. Angles are built the way ggml builds them — a
/// running Float product of the per-pair factor — so rotations match llama.cpp's closely.
struct RoPE {
    let dimensions: Int       // how many leading dimensions of each head rotate
    let headSize: Int
    let base: Float
    let positionScale: Float  // linear context scaling (1 = none)
    let style: RoPEStyle
    /// Per-pair divisors of the angle (ggml's freq_factors: Llama 3's `rope_freqs`, LongRoPE's
    /// short factors), `dimensions / 2` values; nil: none.
    var frequencyFactors: UnsafePointer<Float>? = nil
    /// LongRoPE's long-context factors, used instead of `frequencyFactors` by sessions whose
    /// context exceeds `originalContextLength` (llama.cpp decides by the context size too).
    var longContextFactors: UnsafePointer<Float>? = nil
    var originalContextLength: Int = 0
    /// Multiplies every sine and cosine (ggml's attn_factor; LongRoPE's attention scaling).
    var magnitude: Float = 1

    /// Rotates `heads` consecutive heads of one token in place, with `table` from `fillTable`
    /// for the token's position.
    func apply(_ vector: UnsafeMutablePointer<Float>, heads: Int, table: UnsafePointer<Float>) {
        for h in 0..<heads {
            let head = vector + h * headSize
            for k in 0..<(dimensions / 2) {
                let cos = table[2 * k], sin = table[2 * k + 1]
                let (i, j) = style == .adjacentPairs ? (2 * k, 2 * k + 1) : (k, k + dimensions / 2)
                let x0 = head[i], x1 = head[j]
                // ggml's rotate_pairs as gcc compiles it (contracted): fma(x0, cos, -(x1·sin))
                // and fma(x0, sin, x1·cos); x0·cos is exact in Double.
                head[i] = Float(Double(x0) * Double(cos) - Double(x1 * sin))
                head[j] = Float(Double(x0) * Double(sin) + Double(x1 * cos))
            }
        }
    }

    /// The factors a session with `contextLength` positions uses.
    func factors(contextLength: Int) -> UnsafePointer<Float>? {
        if let long = longContextFactors, contextLength > originalContextLength { return long }
        return frequencyFactors
    }

    /// (cos, sin) for every pair at `position`; `table` holds `dimensions` floats. The sines
    /// and cosines are glibc's (Math.sinf/cosf), which llama.cpp's rotations come from.
    func fillTable(_ table: UnsafeMutablePointer<Float>, position: Int, contextLength: Int) {
        let thetaScale = Math.pow(base, -2 / Float(dimensions))
        let factors = factors(contextLength: contextLength)
        var theta = Float(position)
        for k in 0..<(dimensions / 2) {
            let angle = positionScale * (factors.map { theta / $0[k] } ?? theta)
            table[2 * k] = Math.cosf(angle) * magnitude
            table[2 * k + 1] = Math.sinf(angle) * magnitude
            theta *= thetaScale
        }
    }

    /// What a table depends on (within one session, whose context length is fixed).
    struct TableKey: Equatable {
        var base: UInt32
        var positionScale: UInt32
        var magnitude: UInt32
        var factors: UInt
        var dimensions: Int
        var position: Int
    }

    func tableKey(position: Int, contextLength: Int) -> TableKey {
        TableKey(base: base.bitPattern, positionScale: positionScale.bitPattern, magnitude: magnitude.bitPattern,
                 factors: UInt(bitPattern: factors(contextLength: contextLength)), dimensions: dimensions, position: position)
    }
}
