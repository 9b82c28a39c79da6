# nbconvert configuration used by `make notebooks`: execute in place, then clear
# volatile metadata so stored notebooks diff cleanly. Cell tags (e.g. the papermill
# `parameters` tag, nbval markers) and the kernel spec are kept.
c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded
c.NbConvertApp.export_format = "notebook"
c.ClearMetadataPreprocessor.enabled = True
c.ClearMetadataPreprocessor.preserve_cell_metadata_mask = {"tags"}
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {"kernelspec", ("language_info", "name")}
c.ExecutePreprocessor.timeout = 1800
c.ExecutePreprocessor.kernel_name = "python3"
