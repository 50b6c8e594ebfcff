"""A few real proteins from different compartments, to try the app without pasting anything.

Sequences are copied from the MultiLoc data set (Höglund et al., Bioinformatics
2006; ``../shared/data/multiloc``) exactly as stored there, with the data set's
compartment label. ``fold`` is the record's MultiLoc fold: fold 0 is the test
fold, which the shipped ``multiloc`` model never trained on. None of these
accessions is in the DeepLoc 1.0 training set (``../shared/data/deeploc/train.fasta``,
checked by accession; homologues may be). ``annotation`` is
the data set's header annotation (``SP 18``: signal peptide of 18 residues;
``mTP``: mitochondrial and ``cTP``: chloroplast transit peptide).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "MultiLoc (Höglund et al., Bioinformatics 2006)"
IN_DEEPLOC_TRAINING = False
"""No example accession occurs in DeepLoc's training set (so the shipped deeploc model never saw them)."""


@dataclass(frozen=True)
class Example:
    """One real protein with its known location."""

    accession: str
    name: str
    organism: str
    location: str  # the data set's compartment label
    source: str
    fold: int
    annotation: str
    sequence: str

    @property
    def label(self) -> str:
        """Short text for a selector: accession, name, known location, length."""
        return f"{self.accession} {self.name} ({self.location}, {len(self.sequence)} aa)"

    @property
    def in_test_fold(self) -> bool:
        return self.fold == 0

    def fasta(self) -> str:
        """The example as a FASTA record (header: accession and known location)."""
        body = "\n".join(self.sequence[i : i + 60] for i in range(0, len(self.sequence), 60))
        return f">{self.accession} {self.location}\n{body}\n"


EXAMPLES: tuple[Example, ...] = (
    Example(
        accession="P02768",
        name="Serum albumin",
        organism="Homo sapiens",
        location="extracellular",
        source=SOURCE,
        fold=0,
        annotation="SP 18",
        sequence=(
            "MKWVTFISLLFLFSSAYSRGVFRRDAHKSEVAHRFKDLGEENFKALVLIAFAQYLQQCPFEDHVKLVNEVTEFAKTCVADESAENCDKSLHTLFGDKLCT"
            "VATLRETYGEMADCCAKQEPERNECFLQHKDDNPNLPRLVRPEVDVMCTAFHDNEETFLKKYLYEIARRHPYFYAPELLFFAKRYKAAFTECCQAADKAA"
            "CLLPKLDELRDEGKASSAKQRLKCASLQKFGERAFKAWAVARLSQRFPKAEFAEVSKLVTDLTKVHTECCHGDLLECADDRADLAKYICENQDSISSKLK"
            "ECCEKPLLEKSHCIAEVENDEMPADLPSLAADFVESKDVCKNYAEAKDVFLGMFLYEYARRHPDYSVVLLLRLAKTYETTLEKCCAAADPHECYAKVFDE"
            "FKPLVEEPQNLIKQNCELFEQLGEYKFQNALLVRYTKKVPQVSTPTLVEVSRNLGKVGSKCCKHPEAKRMPCAEDYLSVVLNQLCVLHEKTPVSDRVTKC"
            "CTESLVNRRPCFSALEVDETYVPKEFNAETFTFHADICTLSEKERQIKKQTALVELVKHKPKATKEQLKAVMDDFAAFVEKCCKADDKETCFAEEGKKLV"
            "AASQAALGL"
        ),
    ),
    Example(
        accession="P07237",
        name="Protein disulfide-isomerase",
        organism="Homo sapiens",
        location="ER",
        source=SOURCE,
        fold=1,
        annotation="SP 17",
        sequence=(
            "MLRRALLCLAVAALVRADAPEEEDHVLVLRKSNFAEALAAHKYLLVEFYAPWCGHCKALAPEYAKAAGKLKAEGSEIRLAKVDATEESDLAQQYGVRGYP"
            "TIKFFRNGDTASPKEYTAGREADDIVNWLKKRTGPAATTLPDGAAAESLVESSEVAVIGFFKDVESDSAKQFLQAAEAIDDIPFGITSNSDVFSKYQLDK"
            "DGVVLFKKFDEGRNNFEGEVTKENLLDFIKHNQLPLVIEFTEQTAPKIFGGEIKTHILLFLPKSVSDYDGKLSNFKTAAESFKGKILFIFIDSDHTDNQR"
            "ILEFFGLKKEECPAVRLITLEEEMTKYKPESEELTAERITEFCHRFLEGKIKPHLMSQELPEDWDKQPVKVLVGKNFEDVAFDEKKNVFVEFYAPWCGHC"
            "KQLAPIWDKLGETYKDHENIVIAKMDSTANEVEAVKVHSFPTLKFFPASADRTVIDYNGERTLDGFKKFLESGGQDGAGDDDDLEDLEEAEEPDMEEDDD"
            "QKAVKDEL"
        ),
    ),
    Example(
        accession="P06576",
        name="ATP synthase subunit beta, mitochondrial",
        organism="Homo sapiens",
        location="mitochondrial",
        source=SOURCE,
        fold=4,
        annotation="mTP 47",
        sequence=(
            "MLGFVGRVAAAPASGALRRLTPSASLPPAQLLLRAAPTAVHPVRDYAAQTSPSPKAGAATGRIVAVIGAVVDVQFDEGLPPILNALEVQGRETRLVLEVA"
            "QHLGESTVRTIAMDGTEGLVRGQKVLDSGAPIKIPVGPETLGRIMNVIGEPIDERGPIKTKQFAPIHAEAPEFMEMSVEQEILVTGIKVVDLLAPYAKGG"
            "KIGLFGGAGVGKTVLIMELINNVAKAHGGYSVFAGVGERTREGNDLYHEMIESGVINLKDATSKVALVYGQMNEPPGARARVALTGLTVAEYFRDQEGQD"
            "VLLFIDNIFRFTQAGSEVSALLGRIPSAVGYQPTLATDMGTMQERITTTKKGSITSVQAIYVPADDLTDPAPATTFAHLDATTVLSRAIAELGIYPAVDP"
            "LDSTSRIMDPNIVGSEHYDVARGVQKILQDYKSLQDIIAILGMDELSEEDKLTVSRARKIQRFLSQPFQVAEVFTGHMGKLVPLKETIKGFQQILAGEYD"
            "HLPEQAFYMVGPIEEAVAKADKLAEEHSS"
        ),
    ),
    Example(
        accession="P07339",
        name="Cathepsin D",
        organism="Homo sapiens",
        location="lysosomal",
        source=SOURCE,
        fold=0,
        annotation="SP 18",
        sequence=(
            "MQPSSLLPLALCLLAAPASALVRIPLHKFTSIRRTMSEVGGSVEDLIAKGPVSKYSQAVPAVTEGPIPEVLKNYMDAQYYGEIGIGTPPQCFTVVFDTGS"
            "SNLWVPSIHCKLLDIACWIHHKYNSDKSSTYVKNGTSFDIHYGSGSLSGYLSQDTVSVPCQSASSASALGGVKVERQVFGEATKQPGITFIAAKFDGILG"
            "MAYPRISVNNVLPVFDNLMQQKLVDQNIFSFYLSRDPDAQPGGELMLGGTDSKYYKGSLSYLNVTRKAYWQVHLDQVEVASGLTLCKEGCEAIVDTGTSL"
            "MVGPVDEVRELQKAIGAVPLIQGEYMIPCEKVSTLPAITLKLGGKGYKLSPEDYTLKVSQAGKTLCLSGFMGMDIPPPSGPLWILGDVFIGRYYTVFDRD"
            "NNRVGFAEAARL"
        ),
    ),
    Example(
        accession="P00441",
        name="Superoxide dismutase [Cu-Zn]",
        organism="Homo sapiens",
        location="cytoplasmic",
        source=SOURCE,
        fold=4,
        annotation="",
        sequence=(
            "ATKAVCVLKGDGPVQGIINFEQKESNGPVKVWGSIKGLTEGLHGFHVHEFGDNTAGCTSAGPHFNPLSRKHGGPKDEERHVGDLGNVTADKDGVADVSIE"
            "DSVISLSGDHCIIGRTLVVHEKADDLGKGGNEESTKTGNAGSRLACGVIGIAQ"
        ),
    ),
    Example(
        accession="P04040",
        name="Catalase",
        organism="Homo sapiens",
        location="peroxisomal",
        source=SOURCE,
        fold=0,
        annotation="",
        sequence=(
            "ADSRDPASDQMQHWKEQRAAQKADVLTTGAGNPVGDKLNVITVGPRGPLLVQDVVFTDEMAHFDRERIPERVVHAKGAGAFGYFEVTHDITKYSKAKVFE"
            "HIGKKTPIAVRFSTVAGESGSADTVRDPRGFAVKFYTEDGNWDLVGNNTPIFFIRDPILFPSFIHSQKRNPQTHLKDPDMVWDFWSLRPESLHQVSFLFS"
            "DRGIPDGHRHMNGYGSHTFKLVNANGEAVYCKFHYKTDQGIKNLSVEDAARLSQEDPDYGIRDLFNAIATGKYPSWTFYIQVMTFNQAETFPFNPFDLTK"
            "VWPHKDYPLIPVGKLVLNRNPVNYFAEVEQIAFDPSNMPPGIEASPDKMLQGRLFAYPDTHRHRLGPNYLHIPVNCPYRARVANYQRDGPMCMQDNQGGA"
            "PNYYPNSFGAPEQQPSALEHSIQYSGEVRRFNTANDDNVTQVRAFYVNVLNEEQRKRLCENIAGHLKDAQIFIQKKAVKNFTEVHPDYGSHIQALLDKYN"
            "AEKPKNAIHTFVQSGSHLAAREKANL"
        ),
    ),
    Example(
        accession="P10871",
        name="Ribulose bisphosphate carboxylase/oxygenase activase, chloroplastic",
        organism="Spinacia oleracea",
        location="chloroplast",
        source=SOURCE,
        fold=0,
        annotation="cTP 58",
        sequence=(
            "MATAVSTVGAATRAPLNLNGSSAGASVPTSGFLGSSLKKHTNVRFPSSSRTTSMTVKAAENEEKNTDKWAHLAKDFSDDQLDIRRGKGMVDSLFQAPADA"
            "GTHVPIQSSFEYESQGLRKYDIDNMLGDFYIAPAFMDKLVVHITKNFLNLPNIKIPLILGVWGGKGQGKSFQCELVFAKLGINPIMMSAGELESGNAGEP"
            "AKLIRQRYREAADLIAKGKMCALFINDLEPGAGRMGGTTQYTVNNQMVNATLMNIADNPTNVQLPGMYNKQDNARVPIIVTGNDFSTLYAPLIRDGRMEK"
            "FYWAPTREDRIGVCTGIFKTDKVPAEHVVKLVDAFPGQSIDFFGALRARVYHDEVRKWVNSVGVDNVGKKLVNSKDGPPVFEQPEMTLQKLMEYGNMLVQ"
            "EQENVKRVQLADQYMSSAALGDANKDAIDRGTFFGKAAQQVSLPVAQGCTDPEAKNYDPTARSDDGSCTYNL"
        ),
    ),
    Example(
        accession="P09874",
        name="Poly [ADP-ribose] polymerase 1",
        organism="Homo sapiens",
        location="nuclear",
        source=SOURCE,
        fold=3,
        annotation="",
        sequence=(
            "AESSDKLYRVEYAKSGRASCKKCSESIPKDSLRMAIMVQSPMFDGKVPHWYHFSCFWKVGHSIRHPDVEVDGFSELRWDDQQKVKKTAEAGGVTGKGQDG"
            "IGSKAEKTLGDFAAEYAKSNRSTCKGCMEKIEKGQVRLSKKMVDPEKPQLGMIDRWYHPGCFVKNREELGFRPEYSASQLKGFSLLATEDKEALKKQLPG"
            "VKSEGKRKGDEVDGVDEVAKKKSKKEKDKDSKLEKALKAQNDLIWNIKDELKKVCSTNDLKELLIFNKQQVPSGESAILDRVADGMVFGALLPCEECSGQ"
            "LVFKSDAYYCTGDVTAWTKCMVKTQTPNRKEWVTPKEFREISYLKKLKVKKQDRIFPPETSASVAATPPPSTASAPAAVNSSASADKPLSNMKILTLGKL"
            "SRNKDEVKAMIEKLGGKLTGTANKASLCISTKKEVEKMNKKMEEVKEANIRVVSEDFLQDVSASTKSLQELFLAHILSPWGAEVKAEPVEVVAPRGKSGA"
            "ALSKKSKGQVKEEGINKSEKRMKLTLKGGAAVDPDSGLEHSAHVLEKGGKVFSATLGLVDIVKGTNSYYKLQLLEDDKENRYWIFRSWGRVGTVIGSNKL"
            "EQMPSKEDAIEHFMKLYEEKTGNAWHSKNFTKYPKKFYPLEIDYGQDEEAVKKLTVNPGTKSKLPKPVQDLIKMIFDVESMKKAMVEYEIDLQKMPLGKL"
            "SKRQIQAAYSILSEVQQAVSQGSSDSQILDLSNRFYTLIPHDFGMKKPPLLNNADSVQAKVEMLDNLLDIEVAYSLLRGGSDDSSKDPIDVNYEKLKTDI"
            "KVVDRDSEEAEIIRKYVKNTHATTHNAYDLEVIDIFKIEREGECQRYKPFKQLHNRRLLWHGSRTTNFAGILSQGLRIAPPEAPVTGYMFGKGIYFADMV"
            "SKSANYCHTSQGDPIGLILLGEVALGNMYELKHASHISKLPKGKHSVKGLGKTTPDPSANISLDGVDVPLGTGISSGVNDTSLLYNEYIVYDIAQVNLKY"
            "LLKLKFNFKTSLW"
        ),
    ),
)


def by_sequence(sequence: str) -> Example | None:
    """The example with exactly this sequence, or None."""
    return next((e for e in EXAMPLES if e.sequence == sequence), None)


def by_accession(accession: str) -> Example:
    """The example with this accession; ``KeyError`` naming the known ones otherwise."""
    for example in EXAMPLES:
        if example.accession == accession:
            return example
    known = ", ".join(e.accession for e in EXAMPLES)
    raise KeyError(f"no example {accession!r}; known: {known}")
