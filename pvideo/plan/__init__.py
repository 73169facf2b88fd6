"""The pure compile step: ``compile_plan(spec, row) -> RenderPlan``, and what it draws with
(text raster, fonts, animation, pictures and their safe fetch, assets)."""
